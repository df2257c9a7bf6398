package tasks

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzTemplate renders arbitrary template text with a small size limit:
// whatever the text, rendering must not crash or hang, and what it renders
// stays within the limit. Its seed corpus runs in `go test`; `make fuzz`
// fuzzes it for 30 s.
func FuzzTemplate(f *testing.F) {
	for _, seed := range []string{
		"hello {{ .name }}\n",
		"{{ range $i, $r := .replicas }}server {{ $r }}:3000;\n{{ end }}",
		`{{ repeat 1000000000 "x" }}`,
		`{{ range until 100000 }}0123456789{{ end }}`,
		`{{ printf "%0*d" 1000000 1 }}`,
		`{{ $s := "ab" }}{{ range until 64 }}{{ $s = print $s $s }}{{ end }}{{ $s }}`,
		`{{ indent 99999999 "a\nb" }}`,
		`{{ join (repeat 3 "x") (until 5000) }}`,
		`{{ replace "" "yyyy" (repeat 5000 "x") }}`,
		`{{ seq 1 3 1000000 }}`,
		`{{ define "t" }}{{ template "t" . }}{{ end }}{{ template "t" . }}`,
		"{{ .missing }}",
		"{{ if }}",
		"no newline at the end",
	} {
		f.Add(seed)
	}
	const limit = 64 << 10
	f.Fuzz(func(t *testing.T, text string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "t.tmpl"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		env := &Env{BaseDir: dir, Vars: map[string]any{"name": "world", "replicas": []any{"app_1", "app_2"}}, Shared: &Shared{}, Diff: true}
		tmpl := &Template{Src: "t.tmpl", Dest: filepath.Join(dir, "out"), maxSize: limit}
		if tmpl.Validate(env) != nil {
			return
		}
		f, err := tmpl.plan(env, true)
		if err != nil {
			return
		}
		if len(f.rendered) > limit {
			t.Fatalf("rendered %d bytes, over the %d limit", len(f.rendered), limit)
		}
	})
}
