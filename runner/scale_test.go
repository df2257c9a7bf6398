package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fanoutPlaybook writes a playbook whose role r0 includes r1 twice, r1
// includes r2 twice, ... down to r<levels-1>: 2^(levels-1) paths, levels roles.
func fanoutPlaybook(t testing.TB, levels int) string {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "roles"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range levels {
		body := fmt.Sprintf("include \"r%d\" {}\ninclude \"r%d\" {}\n", i+1, i+1)
		if i == levels-1 {
			body = "task \"assert\" \"a\" {\n  tags = [\"leaf\"]\n  that = [true]\n}\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "roles", fmt.Sprintf("r%d.hcl", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(file, []byte("play \"p\" { roles = [\"r0\"] }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestIncludeFanoutValidatesLinearly: the cycle check and the tag walk
// visit each role once, not once per path (30 levels: 2^29 paths, which
// took minutes before and now a few milliseconds).
func TestIncludeFanoutValidatesLinearly(t *testing.T) {
	pb, diags := Load(fanoutPlaybook(t, 30))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if diags := Validate(pb, nil); diags.HasErrors() {
		t.Fatal(diags)
	}
	if tags := pb.Tags(); len(tags) != 1 || tags[0] != "leaf" {
		t.Fatalf("tags %v", tags)
	}
	ex := &executor{pb: pb, opts: Options{Selection: Selection{Tags: []string{"nothing"}}}}
	if ex.anySelected(pb.Roles["r0"].Steps, nil) {
		t.Fatal("selected")
	}
}

// BenchmarkValidateIncludeFanout: 22 levels of a role including the next
// twice (39 s in issue 10's report, 4.2 s here before the fix).
func BenchmarkValidateIncludeFanout(b *testing.B) {
	file := fanoutPlaybook(b, 22)
	for b.Loop() {
		pb, diags := Load(file)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if diags := Validate(pb, nil); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
