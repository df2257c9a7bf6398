package tasks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File makes a path a directory or makes it absent.
//
// state "directory" creates it with its parents (mode applied, default
// 0755; octal, with the setuid 4000, setgid 2000 and sticky 1000 bits, so
// mode = "1777" makes a /tmp-like directory); state "absent" removes it and
// everything under it. It reports changed only when it created, removed or
// re-moded something.
//
// state "absent" refuses, before anything is removed (and in --check
// alike), a path that would take more than a deployment with it: the
// filesystem root or a directory right under it (/etc, /home), the home
// directory or one of its parents, and the working directory or one of its
// parents ("", ".", ".."), whether named directly or through a symbolic
// link in a parent.
//
//	task "file" "render dir" {
//	  path  = "${var.dir}/nginx"
//	  state = "directory"
//	}
type File struct {
	Path  string `hcl:"path"`
	State string `hcl:"state,optional"`
	Mode  string `hcl:"mode,optional"`
}

var _ Task = (*File)(nil)
var _ Validator = (*File)(nil)

func init() { Register("file", func() Task { return &File{} }) }

// removeAll removes what state "absent" removes; tests replace it.
var removeAll = os.RemoveAll

// Validate checks the attributes before the run starts: an empty path, an
// unknown state or mode, and a path that absent must never remove.
func (t *File) Validate(*Env) error {
	if err := composeRequire("file", "path", t.Path); err != nil {
		return err
	}
	switch t.State {
	case "absent":
		return refuseToRemove(t.Path)
	case "", "directory":
		if t.Mode != "" {
			_, err := fileMode("file", t.Mode, "0755")
			return err
		}
		return nil
	}
	return fmt.Errorf("file: state %q is not one of \"directory\", \"absent\"", t.State)
}

func (t *File) Check(ctx context.Context, env *Env) (Result, error) {
	r, _, err := t.plan(true)
	return r, err
}

func (t *File) Apply(ctx context.Context, env *Env) (Result, error) {
	r, apply, err := t.plan(false)
	if err != nil || apply == nil {
		return r, err
	}
	return r, apply()
}

// plan says what would change and returns the change to make, if any;
// check words the message as what would happen.
func (t *File) plan(check bool) (Result, func() error, error) {
	if err := t.Validate(nil); err != nil {
		return Result{}, nil, err
	}
	verb := func(done, would string) string {
		if check {
			return would
		}
		return done
	}
	path := t.Path
	info, statErr := os.Lstat(path)
	exists := statErr == nil
	if statErr != nil && !os.IsNotExist(statErr) {
		return Result{}, nil, fmt.Errorf("file: %w", statErr)
	}
	if t.State == "absent" {
		if !exists {
			return Result{}, nil, nil
		}
		return Result{Changed: true, Msg: verb("removed ", "would remove ") + path}, func() error { return removeAll(path) }, nil
	}
	mode := fs.FileMode(0o755)
	if t.Mode != "" {
		mode, _ = fileMode("file", t.Mode, "0755") // checked by Validate
	}
	switch {
	case !exists:
		return Result{Changed: true, Msg: verb("created ", "would create ") + path}, func() error {
			if err := os.MkdirAll(path, mode); err != nil {
				return err
			}
			return os.Chmod(path, mode)
		}, nil
	case !info.IsDir():
		return Result{}, nil, fmt.Errorf("file: %s exists and is %s, not a directory; remove it or choose another path", path, fileKind(info.Mode()))
	case t.Mode != "" && modeBits(info.Mode()) != mode:
		return Result{Changed: true, Msg: fmt.Sprintf("%s %s -> %s", verb("mode", "would change mode"), octal(info.Mode()), octal(mode))},
			func() error { return os.Chmod(path, mode) }, nil
	}
	return Result{}, nil, nil
}

// refuseToRemove fails for a path whose removal would take more than a
// deployment: the root or a directory right under it, the home directory or
// a parent of it, the working directory or a parent of it. The path is
// judged as written (made absolute) and with the symbolic links of its
// parents resolved, which is what RemoveAll would descend into.
func refuseToRemove(path string) error {
	if strings.TrimSpace(path) == "" {
		return errors.New("file: attribute path is empty: set it")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	candidates := []string{abs}
	if parent, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		candidates = append(candidates, filepath.Join(parent, filepath.Base(abs)))
	}
	var guarded []string // the home and working directories, resolved too
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		guarded = append(guarded, home)
	}
	if wd, err := os.Getwd(); err == nil {
		guarded = append(guarded, wd)
	}
	for _, g := range slices.Clone(guarded) {
		if real, err := filepath.EvalSymlinks(g); err == nil {
			guarded = append(guarded, real)
		}
	}
	for _, p := range candidates {
		if depth(p) <= 1 {
			return fmt.Errorf("file: refusing to remove %s (%s): it is the filesystem root or a directory right under it; state = \"absent\" removes a deployment's own paths, such as ${var.dir}", path, p)
		}
		for _, g := range guarded {
			if p == g || isParent(p, g) {
				return fmt.Errorf("file: refusing to remove %s (%s): it is or holds the home or working directory %s; state = \"absent\" removes a deployment's own paths, such as ${var.dir}", path, p, g)
			}
		}
	}
	return nil
}

// depth counts the elements of an absolute, clean path: 0 for "/", 1 for
// "/etc" (a volume name such as C: is not counted).
func depth(abs string) int {
	rest := strings.Trim(abs[len(filepath.VolumeName(abs)):], string(filepath.Separator))
	if rest == "" {
		return 0
	}
	return strings.Count(rest, string(filepath.Separator)) + 1
}

// isParent reports whether dir holds path (both absolute and clean).
func isParent(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
