package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkConverged50Templates loads, validates and runs a converged
// playbook of 50 template tasks: the runner's own overhead, which must stay
// well under 50 ms (make bench records it).
func BenchmarkConverged50Templates(b *testing.B) {
	dir := b.TempDir()
	var hcl strings.Builder
	hcl.WriteString("variable \"dir\" {}\nplay \"p\" { roles = [\"r\"] }\nrole \"r\" {\n")
	for i := range 50 {
		fmt.Fprintf(&hcl, "  task \"template\" \"t%d\" {\n    src  = \"t.tmpl\"\n    dest = \"${var.dir}/out/%d.conf\"\n    vars = { i = %d }\n  }\n", i, i, i)
	}
	hcl.WriteString("}\n")
	file := filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(file, []byte(hcl.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t.tmpl"), []byte("server {{ .i }} {{ .dir | base }};\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func() *Recap {
		pb, diags := Load(file)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		recap, diags, err := Run(context.Background(), pb, Options{ExtraVars: []string{"dir=" + dir}})
		if diags.HasErrors() || err != nil {
			b.Fatal(diags, err)
		}
		return recap
	}
	if first := run(); first.Changed != 50 {
		b.Fatalf("first run: %s", first.Summary())
	}
	b.ResetTimer()
	for b.Loop() {
		if r := run(); r.Changed != 0 {
			b.Fatalf("converged run: %s", r.Summary())
		}
	}
}
