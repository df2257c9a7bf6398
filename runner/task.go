package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zdplay/zdplay/tasks"
)

func (ex *executor) stopped() bool {
	select {
	case <-ex.opts.Stop:
		return true
	default:
		return false
	}
}

func (ex *executor) runTask(ctx context.Context, t *TaskDecl, f frame) error {
	if !t.Handler && !ex.opts.Selection.selects(concatTags(f.tags, t.Tags)) {
		return nil
	}
	if ex.stopped() || ctx.Err() != nil {
		ex.mu.Lock()
		ex.recap.StoppedBefore = ex.newResult(t, f).Title()
		ex.mu.Unlock()
		return ErrInterrupted
	}
	if t.Kind == flushHandlers {
		return ex.flush(ctx, f)
	}
	r := ex.newResult(t, f)
	evalCtx := ex.evalContext(f)
	if t.When != nil {
		ok, diags := truthy(t.When, evalCtx, "when")
		if diags.HasErrors() {
			return ex.fail(t, r, f, diagError(diags), false)
		}
		if !ok {
			r.Status = StatusSkipped
			ex.finish(t, r, f)
			return nil
		}
	}
	ignore, err := ex.boolAttr(t.IgnoreErrors, evalCtx, false)
	if err != nil {
		return ex.fail(t, r, f, err, false)
	}
	retries, delay, timeout, err := ex.retryAttrs(t, evalCtx)
	if err != nil {
		return ex.fail(t, r, f, err, ignore)
	}
	task, diags := decodeTaskBody(t, evalCtx)
	if diags.HasErrors() {
		return ex.fail(t, r, f, diagError(diags), ignore)
	}
	if d, ok := task.(tasks.DefaultTimeouter); ok && t.Timeout == nil {
		timeout = d.DefaultTimeout()
	}
	ex.printer.TaskStart(r)
	env := ex.env(t, f)
	title := r.Title() // with its item: parallel tasks report apart
	env.Progress = func(format string, args ...any) { ex.printer.Progress(title, fmt.Sprintf(format, args...)) }
	env.Timeout = timeout
	start := time.Now()
	var res tasks.Result
	for attempt := 0; ; attempt++ {
		res, err = ex.attempt(ctx, task, env, timeout)
		if err == nil || attempt >= retries || ctx.Err() != nil {
			break
		}
		ex.printer.Note(fmt.Sprintf("%s: attempt %d of %d failed (%v); retrying in %s", r.Title(), attempt+1, retries+1, err, delay))
		if sleepCtx(ctx, delay) != nil {
			break
		}
	}
	r.Duration = time.Since(start)
	r.fill(res)
	if err != nil && ctx.Err() != nil {
		// A second Ctrl-C cancelled the run while the task ran: the run is
		// interrupted, not failed, and no rescue runs for it.
		_ = ex.fail(t, r, f, err, false)
		ex.mu.Lock()
		ex.recap.Aborted = r.Title()
		ex.mu.Unlock()
		return ErrInterrupted
	}
	if err != nil {
		return ex.fail(t, r, f, err, ignore)
	}
	observedBy(f, res)
	r.Status = StatusOK
	if res.Changed {
		r.Status = StatusChanged
		ex.mu.Lock()
		for _, h := range t.Notify {
			f.notified.notify(f, h)
		}
		ex.mu.Unlock()
	}
	ex.finish(t, r, f)
	return nil
}

func decodeTaskBody(t *TaskDecl, ctx *hcl.EvalContext) (tasks.Task, hcl.Diagnostics) {
	kind, ok := tasks.Lookup(t.Kind)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown task kind " + quote(t.Kind), Subject: t.DeclRange.Ptr()}}
	}
	task := kind.New()
	return task, gohcl.DecodeBody(t.Body, ctx, task)
}

func (ex *executor) attempt(ctx context.Context, task tasks.Task, env *tasks.Env, timeout time.Duration) (tasks.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if ex.opts.Check {
		return task.Check(ctx, env)
	}
	res, err := task.Apply(ctx, env)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return res, err
}

// flush runs the notified handlers: those of the role, in the order
// declared, then those of the roles it included, each with the values of
// where it was first notified.
func (ex *executor) flush(ctx context.Context, f frame) error {
	for {
		ex.mu.Lock()
		h, hf, ok := f.notified.next()
		ex.mu.Unlock()
		if !ok {
			return nil
		}
		if err := ex.runTask(ctx, h, hf); err != nil {
			return err
		}
	}
}

func (ex *executor) fail(t *TaskDecl, r *TaskResult, f frame, err error, ignore bool) error {
	r.Status = StatusFailed
	r.Error = err.Error()
	if ignore {
		r.Status = StatusIgnored
	}
	ex.finish(t, r, f)
	if ignore {
		return nil
	}
	return &TaskFailedError{Result: r}
}

// finish records a result, registers it and prints it.
func (ex *executor) finish(t *TaskDecl, r *TaskResult, f frame) {
	r.redact(ex.secrets)
	ex.mu.Lock()
	ex.recap.add(r)
	switch {
	case t.Register == "":
	case f.own != nil:
		f.own[t.Register] = r.registerValue()
	default:
		ex.registered[t.Register] = r.registerValue()
	}
	ex.mu.Unlock()
	ex.printer.TaskDone(r, ex.opts.Diff)
}

func (ex *executor) newResult(t *TaskDecl, f frame) *TaskResult {
	r := &TaskResult{Play: f.play, Role: f.role, Kind: t.Kind, Name: t.Name, Handler: t.Handler, Pos: t.DeclRange.String()}
	switch {
	case f.each != cty.NilVal:
		r.Item = ex.secrets.String(itemLabel(f.each))
	case f.label != "":
		r.Item = ex.secrets.String(f.label)
	}
	return r
}

// itemLabel names a loop item in the recap: a string as it is, a list of
// strings (a batch) joined, an object by its service or name.
func itemLabel(each cty.Value) string {
	v := each.GetAttr("value")
	switch t := v.Type(); {
	case t == cty.String:
		return v.AsString()
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.Type() != cty.String {
				return describe(v)
			}
			parts = append(parts, e.AsString())
		}
		return strings.Join(parts, ", ")
	case t.IsObjectType():
		for _, attr := range []string{"service", "name"} {
			if t.HasAttribute(attr) && v.GetAttr(attr).Type() == cty.String {
				return v.GetAttr(attr).AsString()
			}
		}
	}
	k := each.GetAttr("key")
	if k.Type() == cty.String {
		return k.AsString()
	}
	return describe(v)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
