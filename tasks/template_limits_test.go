package tasks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// finishes runs f, failing the test if it blocks for seconds (a FIFO
// opened for reading waits for a writer forever).
func finishes(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still blocked after 5s", what)
		return nil
	}
}

// dest must be a regular file or absent: a directory or FIFO is refused
// (as a device node would be), and a symbolic link is refused, neither
// followed nor replaced.
func TestTemplateRefusesANonRegularOrSymlinkedDest(t *testing.T) {
	env := newEnv(t)
	writeFile(t, filepath.Join(env.BaseDir, "t.tmpl"), "new\n")
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	writeFile(t, target, "old\n")
	link := filepath.Join(dir, "link")
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for dest, what := range map[string]string{link: "a symbolic link", fifo: "a named pipe (FIFO)", sub: "a directory"} {
		tmpl := &Template{Src: "t.tmpl", Dest: dest}
		for name, run := range map[string]func(context.Context, *Env) (Result, error){"check": tmpl.Check, "apply": tmpl.Apply} {
			err := finishes(t, name+" "+dest, func() error { _, err := run(context.Background(), env); return err })
			if want := "template: dest " + dest + " is " + what + ", not a regular file"; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %s: err = %v, want %q", name, dest, err, want)
			}
		}
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced")
	}
	if got := readString(t, target); got != "old\n" {
		t.Fatalf("the link's target was written: %q", got)
	}
	if info, err := os.Lstat(fifo); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Fatal("the FIFO was replaced")
	}
}

// src must be a regular file: a FIFO is refused at once (validate used to
// hang reading it); a symbolic link to a template is fine.
func TestTemplateRefusesANonRegularSrc(t *testing.T) {
	env := newEnv(t)
	fifo := filepath.Join(env.BaseDir, "fifo.tmpl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl := &Template{Src: "fifo.tmpl", Dest: filepath.Join(t.TempDir(), "out")}
	err := finishes(t, "validate", func() error { return tmpl.Validate(env) })
	if want := "template: src " + fifo + " is a named pipe (FIFO), not a regular file"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if err := (&Template{Src: env.BaseDir, Dest: "x"}).Validate(env); err == nil || !strings.Contains(err.Error(), "is a directory, not a regular file") {
		t.Fatalf("a directory as src: %v", err)
	}
	writeFile(t, filepath.Join(env.BaseDir, "real.tmpl"), "hi\n")
	if err := os.Symlink("real.tmpl", filepath.Join(env.BaseDir, "link.tmpl")); err != nil {
		t.Fatal(err)
	}
	if err := (&Template{Src: "link.tmpl", Dest: "x"}).Validate(env); err != nil {
		t.Fatalf("a symlink to a template: %v", err)
	}
}

// A source, a rendering, or one function's result over the limit fails at
// once naming the limit, without the memory being spent.
func TestTemplateSizeLimits(t *testing.T) {
	env := newEnv(t)
	dest := filepath.Join(t.TempDir(), "out")
	writeFile(t, filepath.Join(env.BaseDir, "big.tmpl"), strings.Repeat("x", 2000))
	err := (&Template{Src: "big.tmpl", Dest: dest, maxSize: 1000}).Validate(env)
	if err == nil || !strings.Contains(err.Error(), "is 2000 bytes, over the 1000 bytes limit of a template source") {
		t.Fatalf("big source: %v", err)
	}
	for text, want := range map[string]string{
		`{{ range until 100 }}0123456789abcdef{{ end }}`:                      "makes more than the 1000 bytes limit of a rendered template",
		`{{ repeat 1000000000 "x" }}`:                                         "repeat would make 1000000000 bytes: over the 1000 bytes limit",
		`{{ indent 1000000000 "x" }}`:                                         "indent would make",
		`{{ printf "%01000000000d" 1 }}`:                                      "printf: width 1000000000 is over",
		`{{ printf "%*d" 1000000000 1 }}`:                                     "printf: width * is over",
		`{{ len (until 1000000000) }}`:                                        "until would make",
		`{{ seq 1000000000 }}`:                                                "seq would make",
		`{{ $s := "xx" }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}`: "print made 1024 bytes",
		`{{ randAlpha 1000000000 }}`:                                          "randAlpha would make",
	} {
		writeFile(t, filepath.Join(env.BaseDir, "t.tmpl"), text)
		start := time.Now()
		_, err := (&Template{Src: "t.tmpl", Dest: dest, maxSize: 1000}).Check(context.Background(), env)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", text, err, want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %s", text, d)
		}
	}
	// The real limit: repeat's billion bytes fail before they are made.
	writeFile(t, filepath.Join(env.BaseDir, "t.tmpl"), `{{ repeat 1000000000 "x" }}`)
	start := time.Now()
	_, err = (&Template{Src: "t.tmpl", Dest: dest}).Check(context.Background(), env)
	t.Logf("repeat 1e9 failed after %s: %v", time.Since(start), err)
	if err == nil || !strings.Contains(err.Error(), "over the 64 MiB limit of a template") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatal("a template over the limit wrote its dest")
	}
}

// mode keeps the setuid, setgid and sticky bits, and a second run changes
// nothing.
func TestTemplateModeKeepsSpecialBits(t *testing.T) {
	env := newEnv(t)
	writeFile(t, filepath.Join(env.BaseDir, "t.tmpl"), "x\n")
	dest := filepath.Join(t.TempDir(), "out")
	for _, mode := range []string{"1777", "2755", "0640"} {
		tmpl := &Template{Src: "t.tmpl", Dest: dest, Mode: mode}
		if r, err := tmpl.Apply(context.Background(), env); err != nil {
			t.Fatalf("mode %s: %+v %v", mode, r, err)
		}
		if got := octal(statMode(t, dest)); got != mode {
			t.Fatalf("mode %s: file has %s", mode, got)
		}
		if r, err := tmpl.Apply(context.Background(), env); err != nil || r.Changed {
			t.Fatalf("mode %s, second run: %+v %v, want unchanged", mode, r, err)
		}
	}
	for _, bad := range []string{"17777", "rw-r--r--", "0999"} {
		if err := (&Template{Src: "t.tmpl", Dest: dest, Mode: bad}).Validate(env); err == nil || !strings.Contains(err.Error(), "is not an octal file mode") {
			t.Errorf("mode %q: %v", bad, err)
		}
	}
}

func statMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return modeBits(info.Mode())
}

func TestTemplateEmptyAttributesAreNamed(t *testing.T) {
	env := newEnv(t)
	for _, tmpl := range []*Template{{Src: "", Dest: "x"}, {Src: "t.tmpl", Dest: " "}} {
		if err := tmpl.Validate(env); err == nil || !strings.Contains(err.Error(), "template: attribute ") {
			t.Errorf("%+v: %v", tmpl, err)
		}
	}
}
