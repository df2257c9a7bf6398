package tasks

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// FuzzTemplate renders arbitrary template text with a small size limit:
// whatever the text, rendering must not crash, and what it renders stays
// within the limit. Its seed corpus runs in `go test`; `make fuzz` fuzzes it
// for 30 s.
//
// The size limits bound memory, not time: nested loops, a loop over a huge
// number, or a template calling itself run as long as the author wrote
// them to (text/template stops a recursion at depth 100000). Texts that may
// (two ranges, a range with a 6-digit number, a template or block call)
// are skipped, and so are sprig's functions that take seconds or the
// network (key generation, bcrypt, DNS lookups), so that the fuzzer spends
// its time on the rest instead of stalling on one of them.
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
		"{{ .missing }}",
		"{{ if }}",
		"no newline at the end",
	} {
		f.Add(seed)
	}
	const limit = 64 << 10
	f.Fuzz(func(t *testing.T, text string) {
		if slowTemplate(text) {
			t.Skip("may run for long: loops or recursion")
		}
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

var bigNumber = regexp.MustCompile(`\d{6,}`)

// slowTemplate tells texts that may render for long (see FuzzTemplate).
func slowTemplate(text string) bool {
	ranges := strings.Count(text, "range")
	if ranges > 1 || ranges == 1 && bigNumber.MatchString(text) {
		return true
	}
	for _, slow := range []string{"template", "block", "getHostByName", "genPrivateKey", "genCA", "genSelfSigned", "genSigned", "derivePassword", "htpasswd", "bcrypt"} {
		if strings.Contains(text, slow) {
			return true
		}
	}
	return false
}
