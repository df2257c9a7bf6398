package runner

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zdplay/zdplay/tasks"
)

// preflight decodes every task whose attributes are known before the run
// (they use only variables and locals) and lets kinds that can validate
// themselves do so, so a broken template fails before anything changes.
func (ex *executor) preflight() hcl.Diagnostics {
	var diags hcl.Diagnostics
	included := ex.pb.includedRoles()
	seen := map[*Include]bool{}
	for _, name := range sortedKeys(ex.pb.Roles) {
		r := ex.pb.Roles[name]
		if included[name] {
			continue // checked where included, when the include's vars are known
		}
		f := frame{locals: ex.locals, roleDir: r.Dir}
		if r.Vars != nil {
			// Vars that use only values known before the run are
			// evaluated now, for the check; the run evaluates them again
			// when the role starts (a file they read may have changed),
			// and reports there what fails here.
			if !staticExprs(r.Vars) {
				continue
			}
			locals, err := ex.withVars(ex.locals, r.Vars, f)
			if err != nil {
				continue
			}
			f.locals = locals
		}
		diags = append(diags, ex.preflightRole(r, f, seen)...)
	}
	return distinctDiags(diags)
}

// distinctDiags drops the repeats of a diagnostic: a role included in
// several places with the same values fails the same way in each, a task
// default the same way in each task it gives an attribute.
func distinctDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		summary, detail string
		subject         hcl.Range
	}
	seen := map[key]bool{}
	var out hcl.Diagnostics
	for _, d := range diags {
		k := key{summary: d.Summary, detail: d.Detail}
		if d.Subject != nil {
			k.subject = *d.Subject
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
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

// preflightSteps checks, before the first task runs, the attributes of the
// groups and includes in steps that depend only on values known before the
// run (staticExprs: var.*, local.*, param.*, path.*) (as
// preflight does for task bodies): a for_each that is not a collection, a
// parallel that is not a bool, a bad pause or max_failure_ratio, include
// vars that are not an object. An included role whose locals are so known
// is checked too, once per include. What depends on each.* or a registered
// result is checked when reached.
func (ex *executor) preflightSteps(steps []Step, f frame, seen map[*Include]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(err error) bool {
		if d, ok := err.(*DiagError); ok {
			diags = append(diags, d.Diags...)
		} else if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value", Detail: err.Error()})
		}
		return err == nil
	}
	ctx := ex.evalContext(f)
	for _, s := range steps {
		switch s := s.(type) {
		case *Group:
			for _, e := range []struct {
				expr hcl.Expression
				fn   func() error
			}{
				{s.ForEach, func() error { _, err := loopItems(s.ForEach, ctx); return err }},
				{s.Parallel, func() error { _, err := namedBool(s.Parallel, ctx, false, "parallel"); return err }},
				{s.Pause, func() error { _, err := durationAttr(s.Pause, ctx, 0); return err }},
				{s.MaxFailureRatio, func() error { _, err := ratioAttr(s.MaxFailureRatio, ctx); return err }},
			} {
				if e.expr != nil && staticExprs(e.expr) {
					add(e.fn())
				}
			}
			if s.Phased != nil && staticExprs(mapValues(s.Phased.Attrs)...) {
				// A bad strategy (-e order=sideways) or action is invalid
				// input: exit 2 before anything runs.
				add(s.Phased.construct.check(ex, s, f))
			}
			diags = append(diags, ex.preflightSteps(s.Steps, f, seen)...)
			diags = append(diags, ex.preflightSteps(s.Rescue, f, seen)...)
		case *Include:
			if seen[s] {
				continue
			}
			seen[s] = true
			r := ex.pb.Roles[s.Role]
			if !staticExprs(r.Vars, s.Vars) {
				continue
			}
			if inner, err := ex.includeFrame(r, s, f); add(err) {
				diags = append(diags, ex.preflightRole(r, inner, seen)...)
			}
		}
	}
	return diags
}

// preflightCommon checks a task's retries, delay, timeout and
// ignore_errors when they use only values known before the run.
func (ex *executor) preflightCommon(t *TaskDecl, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(err error) {
		if d, ok := err.(*DiagError); ok {
			diags = append(diags, d.Diags...)
		}
	}
	if staticExprs(t.Retries, t.Delay, t.Timeout) {
		_, _, _, err := ex.retryAttrs(t, ctx)
		add(err)
	}
	if staticExprs(t.IgnoreErrors) {
		_, err := ex.boolAttr(t.IgnoreErrors, ctx, false)
		add(err)
	}
	return diags
}

// staticExprs reports whether exprs (nil ones ignored) refer only to
// values known before the run: var.*, local.*, param.*, path.* and run.*.
func staticExprs(exprs ...hcl.Expression) bool {
	for _, expr := range exprs {
		if expr == nil {
			continue
		}
		for _, tr := range expr.Variables() {
			switch tr.RootName() {
			case "var", "local", "param", "path", "run":
			default:
				return false
			}
		}
	}
	return true
}

func mapValues(m map[string]hcl.Expression) []hcl.Expression {
	out := make([]hcl.Expression, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}
