package tasks

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/zclconf/go-cty/cty"
)

// Template renders a text/template file, with sprig's functions, to dest.
//
// The template sees the playbook's variables and locals as its data, plus
// the task's own vars (which win); a missing key is an error. dest is written
// atomically (a temp file beside it, then rename) with its parent directories
// created and its mode kept. It reports changed only when dest's bytes or
// mode differ from what the template renders.
//
//	task "template" "nginx conf" {
//	  src  = "../templates/nginx.conf.tmpl"   # relative to this file
//	  dest = "${var.dir}/nginx/default.conf" # relative to the working directory
//	  vars = { down = ["app_1"] }
//	  mode = "0644"
//	}
type Template struct {
	Src  string    `hcl:"src"`
	Dest string    `hcl:"dest"`
	Vars cty.Value `hcl:"vars,optional"`
	Mode string    `hcl:"mode,optional"`
}

var _ Task = (*Template)(nil)
var _ Validator = (*Template)(nil)

func init() { Register("template", func() Task { return &Template{} }) }

// sprigFuncs is built once: sprig makes a fresh map of ~200 functions on
// every call.
var sprigFuncs = sprig.TxtFuncMap()

// templateFile is what one Check computes and Apply writes.
type templateFile struct {
	dest     string
	rendered []byte
	mode     fs.FileMode
	result   Result
}

// Validate parses the template so that a syntax error fails the run before
// anything changes.
func (t *Template) Validate(env *Env) error {
	_, err := t.parse(env)
	return err
}

// parsedTemplates caches parsed templates by path and content: a template
// is parsed by the preflight, then by each task (or loop item) rendering
// it, and parsing copies sprig's ~200 functions each time. A parsed
// template may be executed concurrently (parallel items).
var parsedTemplates sync.Map // src + "\x00" + text -> *template.Template

func (t *Template) parse(env *Env) (*template.Template, error) {
	src := resolve(env.BaseDir, t.Src)
	text, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("cannot read template: %w", err)
	}
	key := src + "\x00" + string(text)
	if tmpl, ok := parsedTemplates.Load(key); ok {
		return tmpl.(*template.Template), nil
	}
	tmpl, err := template.New(src).Option("missingkey=error").Funcs(sprigFuncs).Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("template syntax: %w", err)
	}
	parsedTemplates.Store(key, tmpl)
	return tmpl, nil
}

func (t *Template) Check(ctx context.Context, env *Env) (Result, error) {
	f, err := t.plan(env)
	if err == nil && f.result.Changed && env.Shared != nil {
		env.Shared.Stage(f.dest, f.rendered)
	}
	return f.result, err
}

func (t *Template) Apply(ctx context.Context, env *Env) (Result, error) {
	f, err := t.plan(env)
	if err != nil || !f.result.Changed {
		return f.result, err
	}
	return f.result, writeAtomic(f.dest, f.rendered, f.mode)
}

func (t *Template) plan(env *Env) (templateFile, error) {
	tmpl, err := t.parse(env)
	if err != nil {
		return templateFile{}, err
	}
	data := maps.Clone(env.Vars)
	if data == nil {
		data = map[string]any{}
	}
	if !t.Vars.IsNull() && t.Vars.IsKnown() {
		extra, ok := GoValue(t.Vars).(map[string]any)
		if !ok {
			return templateFile{}, fmt.Errorf("vars must be an object, e.g. vars = { down = [\"app_1\"] }")
		}
		maps.Copy(data, extra)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return templateFile{}, fmt.Errorf("rendering: %w", err)
	}
	f := templateFile{dest: t.Dest, rendered: buf.Bytes(), mode: 0o644}
	old, statErr := os.Stat(f.dest)
	if statErr == nil {
		f.mode = old.Mode().Perm()
	}
	if t.Mode != "" {
		m, err := strconv.ParseUint(t.Mode, 8, 32)
		if err != nil {
			return templateFile{}, fmt.Errorf("mode %q is not an octal file mode such as \"0644\"", t.Mode)
		}
		f.mode = fs.FileMode(m)
	}
	prev, readErr := readDest(env, f.dest)
	switch {
	case readErr != nil && !os.IsNotExist(readErr):
		return templateFile{}, readErr
	case readErr != nil:
		f.result = Result{Changed: true, Msg: "created " + f.dest, Diff: unifiedDiff("/dev/null", f.dest, "", buf.String())}
	case !bytes.Equal(prev, f.rendered):
		f.result = Result{Changed: true, Msg: "updated " + f.dest, Diff: unifiedDiff(f.dest+" (before)", f.dest, string(prev), buf.String())}
	case old.Mode().Perm() != f.mode:
		f.result = Result{Changed: true, Msg: fmt.Sprintf("mode %04o -> %04o", old.Mode().Perm(), f.mode)}
	}
	return f, nil
}

// writeAtomic writes data beside path then renames it over path, so readers
// (nginx, compose) never see half a file. The temp name never ends in the
// destination's extension, so an nginx `include *.conf` skips it.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// resolve makes a source path absolute against base (the directory of the
// file that declares the task) unless it already is. Only sources resolve
// this way: destinations are relative to where zdplay runs, as in Ansible.
func resolve(base, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(base, path)
}

// readDest reads what dest holds, or would hold after the earlier tasks of a
// --check run.
func readDest(env *Env, path string) ([]byte, error) {
	if env.Shared != nil {
		return env.Shared.ReadFile(path)
	}
	return os.ReadFile(path)
}
