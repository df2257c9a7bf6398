package tasks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// state = "absent" refuses the root, a directory right under it, the home
// and working directories and their parents, in --check and in a run, and
// before anything is removed: removeAll is replaced by one that fails the
// test, so even a broken refusal removes nothing.
func TestFileAbsentRefusesRootHomeAndWorkingDirectory(t *testing.T) {
	removeAll = func(path string) error {
		t.Errorf("removeAll(%q) called", path)
		return nil
	}
	t.Cleanup(func() { removeAll = os.RemoveAll })
	home := filepath.Join(t.TempDir(), "home", "me")
	work := filepath.Join(home, "deploy")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Chdir(work)
	linkToRoot := filepath.Join(work, "up")
	if err := os.Symlink("/", linkToRoot); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"/":                   "the filesystem root or a directory right under it",
		"/.":                  "the filesystem root or a directory right under it",
		"//":                  "the filesystem root or a directory right under it",
		"/etc":                "the filesystem root or a directory right under it",
		"/etc/..":             "the filesystem root or a directory right under it",
		linkToRoot + "/etc":   "the filesystem root or a directory right under it",
		".":                   "the home or working directory",
		"./":                  "the home or working directory",
		"..":                  "the home or working directory",
		work:                  "the home or working directory",
		home:                  "the home or working directory",
		filepath.Dir(home):    "the home or working directory",
		home + "/deploy/../.": "the home or working directory",
	}
	for path, want := range cases {
		f := &File{Path: path, State: "absent"}
		if err := f.Validate(nil); err == nil || !strings.Contains(err.Error(), "file: refusing to remove "+path+" (") || !strings.Contains(err.Error(), want) {
			t.Errorf("validate %q: %v, want a refusal (%s)", path, err, want)
		}
		for name, run := range map[string]func(context.Context, *Env) (Result, error){"check": f.Check, "apply": f.Apply} {
			if r, err := run(context.Background(), newEnv(t)); err == nil || r.Changed || !strings.Contains(err.Error(), "refusing to remove") {
				t.Errorf("%s %q: %+v %v, want a refusal", name, path, r, err)
			}
		}
	}
	for _, empty := range []string{"", " "} {
		if _, err := (&File{Path: empty, State: "absent"}).Check(context.Background(), newEnv(t)); err == nil || err.Error() != "file: attribute path is empty: set it" {
			t.Errorf("path %q: %v", empty, err)
		}
		if _, err := (&File{Path: empty, State: "directory"}).Apply(context.Background(), newEnv(t)); err == nil || err.Error() != "file: attribute path is empty: set it" {
			t.Errorf("path %q: %v", empty, err)
		}
	}
	// A deployment's own directory is removed (by the fake), with the
	// message in the tense of the mode.
	removeAll = os.RemoveAll
	own := filepath.Join(work, "out")
	if err := os.Mkdir(own, 0o755); err != nil {
		t.Fatal(err)
	}
	if r, err := (&File{Path: "out", State: "absent"}).Check(context.Background(), newEnv(t)); err != nil || r.Msg != "would remove out" {
		t.Fatalf("check: %+v %v", r, err)
	}
	if r, err := (&File{Path: "out", State: "absent"}).Apply(context.Background(), newEnv(t)); err != nil || r.Msg != "removed out" {
		t.Fatalf("apply: %+v %v", r, err)
	}
	if _, err := os.Stat(own); !os.IsNotExist(err) {
		t.Fatal("out not removed")
	}
}

// mode = "1777" keeps the sticky bit (and 2775 the setgid bit); a second
// run changes nothing.
func TestFileModeKeepsSpecialBits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared")
	for _, mode := range []string{"1777", "2775", "0750"} {
		f := &File{Path: path, State: "directory", Mode: mode}
		if r, err := f.Check(context.Background(), newEnv(t)); err != nil || !r.Changed || !strings.HasPrefix(r.Msg, "would ") {
			t.Fatalf("mode %s, check: %+v %v", mode, r, err)
		}
		if r, err := f.Apply(context.Background(), newEnv(t)); err != nil || !r.Changed {
			t.Fatalf("mode %s: %+v %v", mode, r, err)
		}
		if got := octal(statMode(t, path)); got != mode {
			t.Fatalf("mode %s: directory has %s", mode, got)
		}
		if r, err := f.Apply(context.Background(), newEnv(t)); err != nil || r.Changed {
			t.Fatalf("mode %s, second run: %+v %v, want unchanged", mode, r, err)
		}
	}
	if err := (&File{Path: path, Mode: "99"}).Validate(nil); err == nil || !strings.Contains(err.Error(), `file: mode "99" is not an octal file mode`) {
		t.Fatalf("bad mode: %v", err)
	}
}
