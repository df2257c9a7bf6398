package tasks

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// File makes a path a directory or makes it absent.
//
// state "directory" creates it with its parents (mode applied, default
// 0755); state "absent" removes it and everything under it. It reports
// changed only when it created, removed or re-moded something.
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

func init() { Register("file", func() Task { return &File{} }) }

func (t *File) Check(ctx context.Context, env *Env) (Result, error) {
	r, _, err := t.plan(env)
	return r, err
}

func (t *File) Apply(ctx context.Context, env *Env) (Result, error) {
	r, apply, err := t.plan(env)
	if err != nil || apply == nil {
		return r, err
	}
	return r, apply()
}

// plan says what would change and returns the change to make, if any.
func (t *File) plan(env *Env) (Result, func() error, error) {
	path := t.Path
	info, statErr := os.Lstat(path)
	exists := statErr == nil
	if statErr != nil && !os.IsNotExist(statErr) {
		return Result{}, nil, statErr
	}
	switch t.State {
	case "absent":
		if !exists {
			return Result{}, nil, nil
		}
		return Result{Changed: true, Msg: "removed " + path}, func() error { return os.RemoveAll(path) }, nil
	case "", "directory":
		mode := fs.FileMode(0o755)
		if t.Mode != "" {
			m, err := strconv.ParseUint(t.Mode, 8, 32)
			if err != nil {
				return Result{}, nil, fmt.Errorf("mode %q is not an octal file mode such as \"0755\"", t.Mode)
			}
			mode = fs.FileMode(m)
		}
		switch {
		case !exists:
			return Result{Changed: true, Msg: "created " + path}, func() error {
				if err := os.MkdirAll(path, mode); err != nil {
					return err
				}
				return os.Chmod(path, mode)
			}, nil
		case !info.IsDir():
			return Result{}, nil, fmt.Errorf("%s exists and is not a directory; remove it or choose another path", path)
		case t.Mode != "" && info.Mode().Perm() != mode:
			return Result{Changed: true, Msg: fmt.Sprintf("mode %04o -> %04o", info.Mode().Perm(), mode)}, func() error { return os.Chmod(path, mode) }, nil
		}
		return Result{}, nil, nil
	}
	return Result{}, nil, fmt.Errorf("state %q is not one of \"directory\", \"absent\"", t.State)
}
