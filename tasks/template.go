package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"text/template"

	"github.com/zclconf/go-cty/cty"

	"github.com/zdplay/zdplay/internal/atomicfile"
)

// Template renders a text/template file, with sprig's functions, to dest.
//
// The template sees the playbook's variables and locals as its data, plus
// the task's own vars (which win); a missing key is an error. dest is written
// atomically (a temp file beside it, then rename) with its parent directories
// created and its mode kept (mode sets it: octal, with the setuid 4000,
// setgid 2000 and sticky 1000 bits). It reports changed only when dest's
// bytes or mode differ from what the template renders; the diff of the
// bytes is computed only for --diff.
//
// dest must be a regular file or not exist yet: a directory, device, FIFO
// or socket is refused, and so is a symbolic link, which is neither
// followed nor replaced (point dest at the file the link names instead).
// src must be a regular file (a symbolic link to one is fine): a FIFO or
// device is refused before it is opened, so validate cannot hang on it.
// The source, the rendered text and any string a template function returns
// are capped at templateMaxSize (64 MiB): past it the task fails naming the
// limit, before the memory is spent (see templateFuncs for the functions
// checked before they run). The caps bound memory, not time: a template's
// nested loops run as long as they were written to.
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

	// maxSize replaces templateMaxSize in tests and the fuzz target.
	maxSize int
}

var _ Task = (*Template)(nil)
var _ Validator = (*Template)(nil)

func init() { Register("template", func() Task { return &Template{} }) }

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
	if t.Mode != "" {
		if _, err := fileMode("template", t.Mode, "0644"); err != nil {
			return err
		}
	}
	_, err := t.parse(env)
	return err
}

func (t *Template) limit() int {
	if t.maxSize > 0 {
		return t.maxSize
	}
	return templateMaxSize
}

// parsedTemplates caches parsed templates by path, content and limit: a
// template is parsed by the preflight, then by each task (or loop item)
// rendering it. A parsed template may be executed concurrently (parallel
// items).
// The cache is emptied past parsedTemplatesMax entries (a fuzzer, or a
// template edited many times, would otherwise grow it without end).
var (
	parsedTemplates      sync.Map // limit + src + "\x00" + text -> *template.Template
	parsedTemplatesCount atomic.Int64
)

const parsedTemplatesMax = 512

func (t *Template) parse(env *Env) (*template.Template, error) {
	if err := composeRequire("template", "src", t.Src, "dest", t.Dest); err != nil {
		return nil, err
	}
	src := resolve(env.BaseDir, t.Src)
	text, err := readSource(src, t.limit())
	if err != nil {
		return nil, err
	}
	key := strconv.Itoa(t.limit()) + "\x00" + src + "\x00" + string(text)
	if tmpl, ok := parsedTemplates.Load(key); ok {
		return tmpl.(*template.Template), nil
	}
	tmpl, err := template.New(src).Option("missingkey=error").Funcs(templateFuncs(t.limit())).Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("template syntax: %w", err)
	}
	if parsedTemplatesCount.Add(1) > parsedTemplatesMax {
		parsedTemplates.Clear()
		parsedTemplatesCount.Store(0)
	}
	parsedTemplates.Store(key, tmpl)
	return tmpl, nil
}

// readSource reads a template source: a regular file (followed through a
// symbolic link) of at most limit bytes. A FIFO or device is refused before
// it is opened.
func readSource(src string, limit int) ([]byte, error) {
	info, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("cannot read template: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, notRegularError("template", "src", src, info.Mode())
	}
	if info.Size() > int64(limit) {
		return nil, fmt.Errorf("template: src %s is %d bytes, over the %s limit of a template source", src, info.Size(), sizeMiB(limit))
	}
	f, err := os.OpenFile(src, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read template: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("template: src %s changed while it was opened: run again", src)
	}
	text, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read template: %w", err)
	}
	if len(text) > limit {
		return nil, fmt.Errorf("template: src %s is over the %s limit of a template source", src, sizeMiB(limit))
	}
	return text, nil
}

func (t *Template) Check(ctx context.Context, env *Env) (Result, error) {
	f, err := t.plan(env, true)
	if err == nil && f.result.Changed && env.Shared != nil {
		env.Shared.Stage(f.dest, f.rendered)
	}
	return f.result, err
}

func (t *Template) Apply(ctx context.Context, env *Env) (Result, error) {
	f, err := t.plan(env, false)
	if err != nil || !f.result.Changed {
		return f.result, err
	}
	return f.result, writeAtomic(f.dest, f.rendered, f.mode)
}

// plan renders the template and compares it with dest; check words the
// message as what would happen.
func (t *Template) plan(env *Env, check bool) (templateFile, error) {
	var extra map[string]any
	if !t.Vars.IsNull() && t.Vars.IsKnown() {
		var ok bool
		if extra, ok = GoValue(t.Vars).(map[string]any); !ok {
			return templateFile{}, fmt.Errorf("vars must be an object, e.g. vars = { down = [\"app_1\"] }")
		}
	}
	rendered, err := t.render(env, extra)
	if err != nil {
		return templateFile{}, err
	}
	f := templateFile{dest: t.Dest, rendered: rendered, mode: 0o644}
	old, statErr := os.Lstat(f.dest)
	switch {
	case statErr == nil && !old.Mode().IsRegular():
		return templateFile{}, notRegularError("template", "dest", f.dest, old.Mode())
	case statErr == nil:
		f.mode = modeBits(old.Mode())
	case !os.IsNotExist(statErr):
		return templateFile{}, fmt.Errorf("template: dest: %w", statErr)
	}
	if t.Mode != "" {
		m, err := fileMode("template", t.Mode, "0644")
		if err != nil {
			return templateFile{}, err
		}
		f.mode = m
	}
	prev, readErr := t.readDest(env, f.dest, old)
	verb := func(done, would string) string {
		if check {
			return would
		}
		return done
	}
	diff := func(oldName, oldText string) string {
		if !env.Diff {
			return ""
		}
		return unifiedDiff(oldName, f.dest, oldText, string(f.rendered))
	}
	switch {
	case readErr != nil && !os.IsNotExist(readErr):
		return templateFile{}, readErr
	case readErr != nil:
		f.result = Result{Changed: true, Msg: verb("created ", "would create ") + f.dest, Diff: diff("/dev/null", "")}
	case !bytes.Equal(prev, f.rendered):
		f.result = Result{Changed: true, Msg: verb("updated ", "would update ") + f.dest, Diff: diff(f.dest+" (before)", string(prev))}
	case old != nil && modeBits(old.Mode()) != f.mode:
		f.result = Result{Changed: true, Msg: fmt.Sprintf("%s %s -> %s", verb("mode", "would change mode"), octal(old.Mode()), octal(f.mode))}
	}
	return f, nil
}

// render executes the template with the playbook's values and extra (which
// win) as its data, within the size limit. The proxy kind renders its conf
// with it too.
func (t *Template) render(env *Env, extra map[string]any) ([]byte, error) {
	tmpl, err := t.parse(env)
	if err != nil {
		return nil, err
	}
	data := maps.Clone(env.Vars)
	if data == nil {
		data = map[string]any{}
	}
	maps.Copy(data, extra)
	buf := &limitedBuffer{max: t.limit()}
	if err := tmpl.Execute(buf, data); err != nil {
		if errors.Is(err, errTemplateTooBig) {
			return nil, fmt.Errorf("template: rendering %s makes more than the %s limit of a rendered template (dest %s)", t.Src, sizeMiB(t.limit()), t.Dest)
		}
		return nil, fmt.Errorf("rendering: %w", err)
	}
	return buf.buf, nil
}

// readDest reads what dest holds, or would hold after the earlier tasks of a
// --check run. info is dest's Lstat (nil when it does not exist); a file
// over the limit differs from any rendering, so it is not read.
func (t *Template) readDest(env *Env, path string, info fs.FileInfo) ([]byte, error) {
	if env.Shared != nil {
		if staged, ok := env.Shared.Staged(path); ok {
			return staged, nil
		}
	}
	if info == nil {
		return nil, os.ErrNotExist
	}
	if info.Size() > int64(t.limit()) {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("template: dest: %w", err)
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(t.limit())+1))
}

// writeAtomic writes data beside path then renames it over path, so readers
// (nginx, compose) never see half a file.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	return atomicfile.Write(path, data, mode)
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
