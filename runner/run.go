package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
	"github.com/zdplay/zdplay/internal/rollout"
	"github.com/zdplay/zdplay/tasks"
)

// Options are the choices of one run.
type Options struct {
	ExtraVars []string // -e values, in order: NAME=VALUE or @FILE
	Selection Selection
	Check     bool // report what would change, change nothing
	Diff      bool // print the diffs of what changes
	Printer   Printer
	// Stop, when closed, makes the run stop before its next task (first
	// Ctrl-C); cancelling the run's context aborts the task in flight.
	Stop <-chan struct{}
}

// ErrInterrupted is returned when Options.Stop ended the run between tasks.
var ErrInterrupted = errors.New("interrupted")

// TaskFailedError is returned when a task failed and stopped the run.
type TaskFailedError struct{ Result *TaskResult }

func (e *TaskFailedError) Error() string {
	return fmt.Sprintf("task %s failed: %s", e.Result.Title(), e.Result.Error)
}

// Run resolves the variables and executes the selected tasks of pb. Invalid
// input (variables, tags, task bodies) comes back as hcl.Diagnostics before
// any task has run.
func Run(ctx context.Context, pb *Playbook, opts Options) (*Recap, hcl.Diagnostics, error) {
	ex, diags := prepare(pb, opts)
	if diags.HasErrors() {
		return nil, diags, nil
	}
	defer ex.shared.Close()
	err := ex.run(ctx)
	ex.recap.Elapsed = time.Since(ex.recap.started)
	ex.printer.Recap(ex.recap)
	return ex.recap, nil, err
}

type executor struct {
	mu         sync.Mutex // guards registered, recap and notified: parallel blocks
	pb         *Playbook
	opts       Options
	printer    Printer
	vars       map[string]cty.Value
	locals     map[string]cty.Value
	registered map[string]cty.Value
	shared     *tasks.Shared
	recap      *Recap
	secrets    *redactor       // values of sensitive variables, never printed
	selected   map[string]bool // includeSelected's answers, per role and tags
	data       *templateData   // Env.Vars, converted once per locals map
}

// frame is what a step sees: its inherited tags and, inside a loop, each.
type frame struct {
	play, role string
	tags       []string
	locals     map[string]cty.Value
	each       cty.Value // cty.NilVal outside a loop
	// notified collects the handlers to run at the end of the role (an
	// included role's own included); handlers are those of the role whose
	// steps these are, that a notify names.
	notified *notifications
	handlers []*TaskDecl
	// own holds what the tasks of one item of a parallel block register, so
	// that items running at once do not see each other's results.
	own map[string]cty.Value
	// failure is what a rescue sees of the failure it handles (see
	// itemFailures.value); cty.NilVal outside a rescue.
	failure cty.Value
	// rollout is rollout.* in the phases of a rollout block, and observed
	// receives what its observe phase saw; cty.NilVal and nil elsewhere.
	rollout  cty.Value
	observed *rollout.Observation
	// label names the item of a task outside a loop in the recap (a
	// rollout's batch); each's label wins.
	label string
	// module is the module whose steps these are, params its param.*
	// (locals then holds its own vars); nil in the playbook's scope.
	module *Role
	params map[string]cty.Value
	// roleDir is path.role: the directory of the role file the steps are in.
	roleDir string
}

func prepare(pb *Playbook, opts Options) (*executor, hcl.Diagnostics) {
	if opts.Printer == nil {
		opts.Printer = discardPrinter{}
	}
	opts.Selection.Tags = splitTags(opts.Selection.Tags)
	opts.Selection.SkipTags = splitTags(opts.Selection.SkipTags)
	diags := pb.checkSelection(opts.Selection)
	vars, d := pb.resolveVariables(opts.ExtraVars)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	locals, d := pb.evalLocals(vars)
	if d.HasErrors() {
		return nil, d
	}
	ex := &executor{
		pb: pb, opts: opts, printer: redactingPrinter{opts.Printer, pb.secrets},
		vars: vars, locals: locals, registered: map[string]cty.Value{},
		shared: &tasks.Shared{}, recap: &Recap{started: time.Now(), Check: opts.Check},
		secrets: pb.secrets,
		data:    &templateData{vars: vars},
	}
	// A task that never runs (a rescue not entered, a role not selected)
	// reads as skipped, so `when = x.skipped` needs no guard.
	notRun := (&TaskResult{Status: StatusSkipped}).registerValue()
	for _, r := range pb.Roles {
		walkTasks(r.Steps, func(t *TaskDecl) {
			if t.Register != "" {
				ex.registered[t.Register] = notRun
			}
		})
	}
	return ex, ex.preflight()
}

// preflight decodes every task whose attributes are known before the run
// (they use only variables and locals) and lets kinds that can validate
// themselves do so, so a broken template fails before anything changes.
func (ex *executor) preflight() hcl.Diagnostics {
	var diags hcl.Diagnostics
	included := ex.pb.includedRoles()
	seen := map[*Include]bool{}
	for _, name := range sortedKeys(ex.pb.Roles) {
		r := ex.pb.Roles[name]
		if r.Vars != nil || included[name] {
			continue // their locals are known only when the role starts
		}
		diags = append(diags, ex.preflightRole(r, frame{locals: ex.locals, roleDir: r.Dir}, seen)...)
	}
	return diags
}

// preflightRole checks a role's tasks, handlers, groups and includes in
// the scope f they will run in.
func (ex *executor) preflightRole(r *Role, f frame, seen map[*Include]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	check := func(t *TaskDecl) {
		diags = append(diags, ex.preflightTask(t, f)...)
	}
	walkTasks(r.Steps, check)
	for _, h := range r.Handlers {
		check(h)
	}
	return append(diags, ex.preflightSteps(r.Steps, f, seen)...)
}

// preflightTask decodes a task whose body uses only values known before
// the run (staticBody) and lets its kind validate it.
func (ex *executor) preflightTask(t *TaskDecl, f frame) hcl.Diagnostics {
	diags := ex.preflightCommon(t, ex.evalContext(f))
	if t.Kind == flushHandlers || !staticBody(t.Body) {
		return diags
	}
	task, d := decodeTaskBody(t, ex.evalContext(f))
	diags = append(diags, d...)
	if v, ok := task.(tasks.Validator); ok && !d.HasErrors() {
		if err := v.Validate(ex.env(t, f)); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid task %s %q", t.Kind, t.Name),
				Detail:   err.Error(),
				Subject:  t.DeclRange.Ptr(),
			})
		}
	}
	return diags
}

// staticBody reports whether a task body refers only to values known
// before the run (staticRoots).
func staticBody(body hcl.Body) bool {
	attrs, diags := body.JustAttributes()
	if diags.HasErrors() {
		return false
	}
	for _, a := range attrs {
		if !staticExprs(a.Expr) {
			return false
		}
	}
	return true
}

func decodeTaskBody(t *TaskDecl, ctx *hcl.EvalContext) (tasks.Task, hcl.Diagnostics) {
	kind, ok := tasks.Lookup(t.Kind)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown task kind " + quote(t.Kind), Subject: t.DeclRange.Ptr()}}
	}
	task := kind.New()
	return task, gohcl.DecodeBody(t.Body, ctx, task)
}

func (ex *executor) run(ctx context.Context) error {
	for _, p := range ex.pb.Plays {
		ex.printer.Play(p.Name)
		playLocals := ex.locals
		if p.Vars != nil {
			var err error
			if playLocals, err = ex.withVars(playLocals, p.Vars, frame{locals: playLocals}); err != nil {
				return err
			}
		}
		for _, name := range p.RoleNames {
			if err := ex.runRole(ctx, p, ex.pb.Roles[name], playLocals); err != nil {
				return err
			}
		}
	}
	return nil
}

func (ex *executor) runRole(ctx context.Context, p *Play, r *Role, locals map[string]cty.Value) error {
	f := frame{play: p.Name, role: r.Name, tags: concatTags(p.Tags, r.Tags), locals: locals, notified: &notifications{}, handlers: r.Handlers, roleDir: r.Dir}
	if !ex.anySelected(r.Steps, f.tags) {
		return nil
	}
	ex.printer.Role(r.Name)
	if r.Vars != nil {
		var err error
		if f.locals, err = ex.withVars(locals, r.Vars, f); err != nil {
			return err
		}
	}
	err := ex.runSteps(ctx, r.Steps, f)
	if err == nil {
		err = ex.flush(ctx, f)
	}
	return err
}

// withVars evaluates a play's or role's vars on top of the locals.
func (ex *executor) withVars(locals map[string]cty.Value, expr hcl.Expression, f frame) (map[string]cty.Value, error) {
	v, diags := expr.Value(ex.evalContext(f))
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		return nil, diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid vars", Detail: "vars must be an object, e.g. vars = { name = \"value\" }.", Subject: expr.Range().Ptr()}})
	}
	out := maps.Clone(locals)
	var keys []string
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		out[k.AsString()] = val
		keys = append(keys, k.AsString())
	}
	ex.data.derived(out, locals, keys)
	return out, nil
}

func (ex *executor) runSteps(ctx context.Context, steps []Step, f frame) error {
	for _, s := range steps {
		var err error
		switch s := s.(type) {
		case *TaskDecl:
			err = ex.runTask(ctx, s, f)
		case *Group:
			err = ex.runGroup(ctx, s, f)
		case *Include:
			err = ex.runInclude(ctx, s, f)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (ex *executor) runGroup(ctx context.Context, g *Group, f frame) error {
	f.tags = concatTags(f.tags, g.Tags)
	if !ex.anySelected(g.Steps, f.tags) {
		return nil
	}
	if g.Rollout != nil {
		return ex.runRollout(ctx, g, f)
	}
	items, parallel, pause, ratio, err := ex.groupAttrs(g, ex.evalContext(f))
	if err != nil {
		return err
	}
	if parallel {
		return ex.runParallel(ctx, g, f, items)
	}
	loop := &itemFailures{items: len(items), ratio: ratio}
	for i, each := range items {
		if i > 0 && pause > 0 {
			ex.printer.Note(fmt.Sprintf("%s %q: pausing %s before the next item", g.Kind, g.Name, pause))
			if err := sleepCtx(ctx, pause); err != nil {
				return err
			}
		}
		inner := f
		if each != cty.NilVal {
			inner.each = each
		}
		switch err := ex.runItem(ctx, g, inner, loop); {
		case errors.Is(err, errTolerated):
			continue
		case errors.Is(err, errRescued):
			return nil
		case err != nil:
			return err
		}
	}
	if len(loop.unrescued) > 0 {
		return fmt.Errorf("%s %q: %d of %d items failed (within max_failure_ratio %g, so it went on); the first: %w",
			g.Kind, g.Name, loop.failed, loop.items, loop.ratio, loop.unrescued[0])
	}
	return nil
}

// runItem runs a group's steps for one item, and its rescue on failure. loop
// counts a serial's failed items (nil for other groups).
func (ex *executor) runItem(ctx context.Context, g *Group, f frame, loop *itemFailures) error {
	if g.When != nil {
		ok, diags := truthy(g.When, ex.evalContext(f), "when")
		if diags.HasErrors() {
			return diagError(diags)
		}
		if !ok {
			ex.skipAll(g.Steps, f)
			return nil
		}
	}
	err := ex.runSteps(ctx, g.Steps, f)
	var failed *TaskFailedError
	if err == nil || !errors.As(err, &failed) {
		return err
	}
	tolerated := loop.fail()
	if len(g.Rescue) > 0 {
		ex.printer.Note(fmt.Sprintf("%s %q failed: running its rescue", g.Kind, g.Name))
		// A rescued group, as in Ansible, is not a failure; its loop stops
		// at the failed item, unless the failure was within the serial's
		// max_failure_ratio, and the run goes on.
		f.failure = loop.value(tolerated, failed.Result)
		if rerr := ex.runSteps(ctx, g.Rescue, f); rerr != nil {
			return rerr
		}
		if tolerated {
			return errTolerated
		}
		return errRescued
	}
	if tolerated {
		ex.printer.Note(fmt.Sprintf("%s %q: %d of %d items failed, within max_failure_ratio %g: going on with the next", g.Kind, g.Name, loop.failed, loop.items, loop.ratio))
		loop.unrescued = append(loop.unrescued, err)
		return errTolerated
	}
	return err
}

var (
	// errRescued ends a group's loop after its rescue ran; the run goes on.
	errRescued = errors.New("rescued")
	// errTolerated goes on with a serial's next item after a failed one
	// within its max_failure_ratio.
	errTolerated = errors.New("failure tolerated")
)

// itemFailures counts the failed items of a serial against its
// max_failure_ratio.
type itemFailures struct {
	items     int
	ratio     float64
	failed    int
	unrescued []error // tolerated failures no rescue handled
}

// fail counts a failed item and reports whether the loop may go on.
func (l *itemFailures) fail() bool {
	if l == nil {
		return false
	}
	l.failed++
	return float64(l.failed) <= l.ratio*float64(l.items)
}

// value is `failure` in a rescue: the task that failed (failure.task, its
// title) and why (failure.error, redacted), failure.failed items of
// failure.items so far, and failure.tolerated when the serial goes on with
// its next item once the rescue is done.
func (l *itemFailures) value(tolerated bool, r *TaskResult) cty.Value {
	failed, items := 1, 1
	if l != nil {
		failed, items = l.failed, l.items
	}
	return cty.ObjectVal(map[string]cty.Value{
		"task":      cty.StringVal(r.Title()),
		"error":     cty.StringVal(r.Error),
		"tolerated": cty.BoolVal(tolerated),
		"failed":    cty.NumberIntVal(int64(failed)),
		"items":     cty.NumberIntVal(int64(items)),
	})
}

// runParallel runs every item of a block at once and waits for all; the
// first failure is the block's.
func (ex *executor) runParallel(ctx context.Context, g *Group, f frame, items []cty.Value) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	var panics goroutinePanic
	for i, each := range items {
		inner := f
		inner.each = each
		inner.own = maps.Clone(f.own)
		if inner.own == nil {
			inner.own = map[string]cty.Value{}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer panics.catch()
			errs[i] = ex.runItem(ctx, g, inner, nil)
		}()
	}
	wg.Wait()
	panics.rethrow()
	for _, err := range errs {
		if err != nil && !errors.Is(err, errRescued) {
			return err
		}
	}
	return nil
}

// runInclude runs an included role's steps: a module in its own scope
// (moduleFrame), any other role with its vars and the include's as locals
// on top of the includer's.
func (ex *executor) runInclude(ctx context.Context, inc *Include, f frame) error {
	r := ex.pb.Roles[inc.Role]
	inner, err := ex.includeFrame(r, inc, f)
	if err != nil {
		return err
	}
	return ex.runSteps(ctx, r.Steps, inner)
}

// includeFrame is what the steps of r see where inc includes it from f.
func (ex *executor) includeFrame(r *Role, inc *Include, f frame) (frame, error) {
	if r.IsModule() {
		return ex.moduleFrame(r, inc, f)
	}
	inner := f
	inner.tags = concatTags(f.tags, r.Tags)
	inner.handlers = r.Handlers // its tasks notify its own handlers
	inner.roleDir = r.Dir
	var err error
	for _, vars := range []hcl.Expression{r.Vars, inc.Vars} {
		if vars != nil {
			if inner.locals, err = ex.withVars(inner.locals, vars, f); err != nil {
				return frame{}, err
			}
		}
	}
	return inner, nil
}

// loopItems turns a for_each value into each objects {key, value}.
func loopItems(expr hcl.Expression, ctx *hcl.EvalContext) ([]cty.Value, error) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	if v.IsNull() || !v.CanIterateElements() {
		return nil, diagError(hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid for_each",
			Detail:  "for_each must be a list, set or map; this is " + v.Type().FriendlyName() + ".",
			Subject: expr.Range().Ptr(),
		}})
	}
	var items []cty.Value
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		if v.Type().IsSetType() {
			k = val
		}
		items = append(items, cty.ObjectVal(map[string]cty.Value{"key": k, "value": val}))
	}
	return items, nil
}

// anySelected reports whether the tag selection runs any task in steps.
func (ex *executor) anySelected(steps []Step, inherited []string) bool {
	for _, s := range steps {
		switch s := s.(type) {
		case *TaskDecl:
			if ex.opts.Selection.selects(concatTags(inherited, s.Tags)) {
				return true
			}
		case *Group:
			if ex.anySelected(s.Steps, concatTags(inherited, s.Tags)) {
				return true
			}
		case *Include:
			if ex.includeSelected(s.Role, inherited) {
				return true
			}
		}
	}
	return false
}

// skipAll records every selected task in steps as skipped by a group's when.
func (ex *executor) skipAll(steps []Step, f frame) {
	for _, s := range steps {
		switch s := s.(type) {
		case *TaskDecl:
			if ex.opts.Selection.selects(concatTags(f.tags, s.Tags)) {
				r := ex.newResult(s, f)
				r.Status = StatusSkipped
				ex.finish(s, r, f)
			}
		case *Group:
			inner := f
			inner.tags = concatTags(f.tags, s.Tags)
			ex.skipAll(s.Steps, inner)
		case *Include:
			inner := f
			inner.tags = concatTags(f.tags, ex.pb.Roles[s.Role].Tags)
			ex.skipAll(ex.pb.Roles[s.Role].Steps, inner)
		}
	}
}

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

func (ex *executor) boolAttr(expr hcl.Expression, ctx *hcl.EvalContext, def bool) (bool, error) {
	return namedBool(expr, ctx, def, "ignore_errors")
}

// namedBool reads an optional bool attribute called what.
func namedBool(expr hcl.Expression, ctx *hcl.EvalContext, def bool, what string) (bool, error) {
	if expr == nil {
		return def, nil
	}
	ok, diags := truthy(expr, ctx, what)
	if diags.HasErrors() {
		return false, diagError(diags)
	}
	return ok, nil
}

func (ex *executor) retryAttrs(t *TaskDecl, ctx *hcl.EvalContext) (retries int, delay, timeout time.Duration, err error) {
	delay, timeout = time.Second, defaultTaskTimeout
	if t.Retries != nil {
		v, diags := t.Retries.Value(ctx)
		if diags.HasErrors() {
			return 0, 0, 0, diagError(diags)
		}
		if v, cerr := convert.Convert(v, cty.Number); cerr != nil || gocty.FromCtyValue(v, &retries) != nil || retries < 0 {
			return 0, 0, 0, attrError(t.Retries, "retries must be a whole number of extra attempts, 0 or more")
		}
	}
	if delay, err = durationAttr(t.Delay, ctx, delay); err != nil {
		return
	}
	if timeout, err = durationAttr(t.Timeout, ctx, timeout); err == nil && timeout == 0 {
		err = attrError(t.Timeout, "timeout is 0: a task needs some time; leave timeout out for the default")
	}
	return
}

// ratioAttr is a number from 0 to 1 (0 when unset).
func ratioAttr(expr hcl.Expression, ctx *hcl.EvalContext) (float64, error) {
	if expr == nil {
		return 0, nil
	}
	var r float64
	if diags := gohcl.DecodeExpression(expr, ctx, &r); diags.HasErrors() {
		return 0, diagError(diags)
	}
	if r < 0 || r > 1 {
		return 0, attrError(expr, fmt.Sprintf("max_failure_ratio is %g: it must be from 0 (no failure tolerated) to 1 (every item may fail)", r))
	}
	return r, nil
}

func attrError(expr hcl.Expression, msg string) error {
	return diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value", Detail: msg + ".", Subject: expr.Range().Ptr()}})
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

// DiagError carries HCL diagnostics found while running (a `when` that is not
// a bool, a task attribute of the wrong type) with their source ranges.
type DiagError struct{ Diags hcl.Diagnostics }

func (e *DiagError) Error() string { return e.Diags.Error() }

func diagError(diags hcl.Diagnostics) error { return &DiagError{Diags: diags} }

// Validate checks a loaded playbook as a run would before its first task:
// variables (with the given -e values), locals and every task whose
// attributes are known up front. Nothing runs.
func Validate(pb *Playbook, extraVars []string) hcl.Diagnostics {
	ex, diags := prepare(pb, Options{ExtraVars: extraVars})
	if ex != nil {
		ex.shared.Close()
	}
	return diags
}

// CheckSelection rejects -t / --skip-tags values that no task carries.
func CheckSelection(pb *Playbook, sel Selection) hcl.Diagnostics {
	sel.Tags, sel.SkipTags = splitTags(sel.Tags), splitTags(sel.SkipTags)
	return pb.checkSelection(sel)
}
