package runner

import (
	"context"
	"maps"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

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
