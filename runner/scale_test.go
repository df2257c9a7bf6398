package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
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

// TestTaskDataConvertedOnce: a task's cost does not grow with the size of
// every variable: the Go form of the variables and of a frame's locals is
// built once and shared by the tasks that see the same values (before, each
// task converted all of them again).
func TestTaskDataConvertedOnce(t *testing.T) {
	file := writeFile(t, "site.hcl", `
variable "big" { default = [1, 2, 3, 4, 5, 6, 7, 8] }
locals { list = ["a", "b"] }
play "p" { roles = ["r"] }
role "r" {
  task "assert" "a" { that = [true] }
}
`)
	pb, diags := Load(file)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ex, diags := prepare(pb, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	task := pb.Roles["r"].Steps[0].(*TaskDecl)
	f := frame{locals: ex.locals}
	first, second := ex.env(task, f).Vars, ex.env(task, f).Vars
	for _, k := range []string{"big", "list"} {
		if reflect.ValueOf(first[k]).Pointer() != reflect.ValueOf(second[k]).Pointer() {
			t.Errorf("%s converted again for the second task", k)
		}
	}
	// An include's vars add to their parent's data; the rest is shared.
	withVars, err := ex.withVars(ex.locals, hclExpr(t, `{ list = ["c"], x = 1 }`), f)
	if err != nil {
		t.Fatal(err)
	}
	inner := ex.env(task, frame{locals: withVars}).Vars
	if reflect.ValueOf(inner["big"]).Pointer() != reflect.ValueOf(first["big"]).Pointer() {
		t.Error("big converted again for an include")
	}
	if got := inner["list"].([]any); len(got) != 1 || got[0] != "c" || inner["x"] != int64(1) {
		t.Errorf("include data: %v", inner)
	}
	if got := ex.env(task, f).Vars["list"].([]any); len(got) != 2 {
		t.Errorf("outer list changed: %v", got)
	}
}

func hclExpr(t *testing.T, src string) hcl.Expression {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return expr
}

// BenchmarkLoopWithBigVariable: a 4000-item serial beside an unused
// 4000-element variable (1.38 s for the run before, 0.17 s after).
func BenchmarkLoopWithBigVariable(b *testing.B) {
	var items, big strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&items, "%d,", i)
		fmt.Fprintf(&big, "\"x%d\",", i)
	}
	file := writeFile(b, "site.hcl", fmt.Sprintf(`variable "big" { default = [%s] }
play "p" { roles = ["r"] }
role "r" {
  serial "s" {
    for_each = [%s]
    task "assert" "a" { that = [true] }
  }
}
`, big.String(), items.String()))
	pb, diags := Load(file)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	for b.Loop() {
		if _, diags, err := Run(context.Background(), pb, Options{}); diags.HasErrors() || err != nil {
			b.Fatal(diags, err)
		}
	}
}
