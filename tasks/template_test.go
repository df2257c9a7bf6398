package tasks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func newEnv(t *testing.T) *Env {
	t.Helper()
	return &Env{BaseDir: t.TempDir(), Vars: map[string]any{"name": "world"}, Shared: &Shared{}}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTemplateChangedOnlyWhenBytesOrModeDiffer(t *testing.T) {
	env := newEnv(t)
	writeFile(t, filepath.Join(env.BaseDir, "t.tmpl"), "hello {{ .name }} {{ .extra | upper }}\n")
	dest := filepath.Join(t.TempDir(), "sub", "out")
	tmpl := &Template{Src: "t.tmpl", Dest: dest, Vars: cty.ObjectVal(map[string]cty.Value{"extra": cty.StringVal("x")})}
	ctx := context.Background()

	r, err := tmpl.Apply(ctx, env)
	if err != nil || !r.Changed {
		t.Fatalf("first apply: %+v %v", r, err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "hello world X\n" {
		t.Fatalf("rendered %q", got)
	}
	if r, _ := tmpl.Apply(ctx, env); r.Changed {
		t.Fatal("second apply changed")
	}
	if err := os.Chmod(dest, 0o600); err != nil {
		t.Fatal(err)
	}
	// The mode a user set is kept when the template sets none.
	if r, _ := tmpl.Apply(ctx, env); r.Changed {
		t.Fatal("apply changed a file whose bytes match, without a mode to enforce")
	}
	tmpl.Mode = "0640"
	if r, _ := tmpl.Apply(ctx, env); !r.Changed {
		t.Fatal("mode 0640 not applied")
	}
	if info, _ := os.Stat(dest); info.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", info.Mode())
	}
}

func TestTemplateCheckWritesNothingButStages(t *testing.T) {
	env := newEnv(t)
	writeFile(t, filepath.Join(env.BaseDir, "t.tmpl"), "v2\n")
	dest := filepath.Join(t.TempDir(), "out")
	writeFile(t, dest, "v1\n")
	r, err := (&Template{Src: "t.tmpl", Dest: dest}).Check(context.Background(), env)
	if err != nil || !r.Changed || r.Msg != "would update "+dest {
		t.Fatalf("check: %+v %v", r, err)
	}
	if r.Diff != "" {
		t.Fatalf("a diff computed without --diff:\n%s", r.Diff)
	}
	env.Diff, env.Shared = true, &Shared{}
	r, _ = (&Template{Src: "t.tmpl", Dest: dest}).Check(context.Background(), env)
	if !strings.Contains(r.Diff, "-v1\n+v2\n") {
		t.Fatalf("diff:\n%s", r.Diff)
	}
	if got, _ := os.ReadFile(dest); string(got) != "v1\n" {
		t.Fatal("check wrote the file")
	}
	if staged, ok := env.Shared.Staged(dest); !ok || string(staged) != "v2\n" {
		t.Fatal("check did not stage what it would write")
	}
}

func TestTemplateErrors(t *testing.T) {
	env := newEnv(t)
	writeFile(t, filepath.Join(env.BaseDir, "missing.tmpl"), "{{ .nope }}")
	writeFile(t, filepath.Join(env.BaseDir, "syntax.tmpl"), "a\n{{ if }}")
	dest := filepath.Join(t.TempDir(), "out")
	_, err := (&Template{Src: "missing.tmpl", Dest: dest}).Apply(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), `map has no entry for key "nope"`) {
		t.Fatalf("missing key: %v", err)
	}
	err = (&Template{Src: "syntax.tmpl", Dest: dest}).Validate(env)
	if err == nil || !strings.Contains(err.Error(), "syntax.tmpl:2") {
		t.Fatalf("syntax error should name file and line: %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatal("a failed template wrote its dest")
	}
}

func TestWriteAtomicLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "default.conf")
	if err := writeAtomic(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want only default.conf", len(entries))
	}
}

func TestUnifiedDiff(t *testing.T) {
	got := unifiedDiff("a", "b", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n")
	want := "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if unifiedDiff("a", "b", "same\n", "same\n") != "" {
		t.Fatal("equal texts have a diff")
	}
	if d := unifiedDiff("/dev/null", "b", "", "new\n"); !strings.Contains(d, "@@ -0,0 +1 @@\n+new\n") {
		t.Fatalf("creation diff:\n%s", d)
	}
	// A file that differs only in its final newline shows a hunk, as diff -u.
	want = "--- a\n+++ b\n@@ -1,2 +1,2 @@\n 1\n-2\n+2\n\\ No newline at end of file\n"
	if got := unifiedDiff("a", "b", "1\n2\n", "1\n2"); got != want {
		t.Fatalf("final newline dropped: got\n%q\nwant\n%q", got, want)
	}
	// Large files are diffed in linear memory and quickly (the LCS table
	// took 3.25 GB for 20k lines).
	var a, b strings.Builder
	for i := range 50000 {
		fmt.Fprintf(&a, "line %d\n", i)
		if i%1000 == 0 {
			fmt.Fprintf(&b, "changed %d\n", i)
		} else {
			fmt.Fprintf(&b, "line %d\n", i)
		}
	}
	if d := unifiedDiff("a", "b", a.String(), b.String()); strings.Count(d, "\n@@ ") != 50 {
		t.Fatalf("50k-line diff has %d hunks, want 50", strings.Count(d, "\n@@ "))
	}
}

func TestFileDirectoryAndAbsent(t *testing.T) {
	env := newEnv(t)
	path := filepath.Join(t.TempDir(), "a", "b")
	f := &File{Path: path, State: "directory"}
	ctx := context.Background()
	if r, err := f.Check(ctx, env); err != nil || !r.Changed {
		t.Fatalf("check: %+v %v", r, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("check created the directory")
	}
	if r, err := f.Apply(ctx, env); err != nil || !r.Changed {
		t.Fatalf("apply: %+v %v", r, err)
	}
	if r, _ := f.Apply(ctx, env); r.Changed {
		t.Fatal("second apply changed")
	}
	gone := &File{Path: filepath.Dir(path), State: "absent"}
	if r, err := gone.Apply(ctx, env); err != nil || !r.Changed {
		t.Fatalf("absent: %+v %v", r, err)
	}
	if r, _ := gone.Apply(ctx, env); r.Changed {
		t.Fatal("absent twice changed")
	}
	if _, err := (&File{Path: path, State: "link"}).Check(ctx, env); err == nil {
		t.Fatal("unknown state accepted")
	}
}

func TestCommand(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	marker := filepath.Join(dir, "m")
	c := &Command{Argv: []string{"sh", "-c", "echo out; echo err >&2; touch m"}, Chdir: dir, Creates: marker}
	r, err := c.Apply(ctx, env)
	if err != nil || !r.Changed || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Fatalf("apply: %+v %v", r, err)
	}
	if r, _ := c.Apply(ctx, env); r.Changed {
		t.Fatal("ran again although creates exists")
	}
	r, err = (&Command{Argv: []string{"sh", "-c", "echo bad >&2; exit 3"}}).Apply(ctx, env)
	if err == nil || r.RC != 3 || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("failing command: %+v %v", r, err)
	}
	no := false
	if r, _ := (&Command{Argv: []string{"true"}, ChangedWhen: &no}).Apply(ctx, env); r.Changed {
		t.Fatal("changed_when = false reported changed")
	}
	if r, _ := (&Command{Argv: []string{"env"}, Env: map[string]string{"ZD_X": "1"}}).Apply(ctx, env); !strings.Contains(r.Stdout, "ZD_X=1") {
		t.Fatal("env not passed")
	}
}

func TestAssert(t *testing.T) {
	ctx := context.Background()
	ok := &Assert{That: cty.TupleVal([]cty.Value{cty.True, cty.True})}
	if _, err := ok.Apply(ctx, nil); err != nil {
		t.Fatal(err)
	}
	bad := &Assert{That: cty.TupleVal([]cty.Value{cty.True, cty.False}), FailMsg: "nope"}
	if _, err := bad.Apply(ctx, nil); err == nil || err.Error() != "nope" {
		t.Fatalf("got %v", err)
	}
	if _, err := (&Assert{That: cty.StringVal("x")}).Apply(ctx, nil); err == nil {
		t.Fatal("a string is not a condition")
	}
}

// A template edited between two renders (the parse cache is keyed by
// content) renders its new text.
func TestTemplateEditedIsParsedAgain(t *testing.T) {
	env := newEnv(t)
	src := filepath.Join(env.BaseDir, "t.tmpl")
	dest := filepath.Join(t.TempDir(), "out")
	tmpl := &Template{Src: "t.tmpl", Dest: dest}
	for _, text := range []string{"one {{ .name }}\n", "two {{ .name }}\n", "one {{ .name }}\n"} {
		writeFile(t, src, text)
		if _, err := tmpl.Apply(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if got, want := readString(t, dest), strings.Replace(text, "{{ .name }}", "world", 1); got != want {
			t.Fatalf("rendered %q, want %q", got, want)
		}
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
