package runner

import (
	"cmp"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zdplay/zdplay/tasks"
)

// Two scopes. A role without params (a play's role, or a role included to
// say a list of steps once) is part of the playbook: it sees var.*, the
// locals with its own and its includer's vars, the each of where it is
// included, every registered result. A module (a role with params) sees
// only param.*, its own vars as local.*, path.*, its own loops' each and
// what its own tasks register, so it works the same whoever includes it.
// Both see run.tags: the tags -t asked for (Ansible's ansible_run_tags;
// empty when none), so that one role can serve two tags, as compose.hcl's
// compose_deploy does upgrade and rollback.

// evalContext is what an expression of f's steps may refer to.
func (ex *executor) evalContext(f frame) *hcl.EvalContext {
	ex.mu.Lock()
	vars := make(map[string]cty.Value, len(ex.registered)+5)
	for k, v := range ex.registered {
		if f.module == nil || f.module.registers[k] {
			vars[k] = v
		}
	}
	for k, v := range f.own {
		if f.module == nil || f.module.registers[k] {
			vars[k] = v
		}
	}
	ex.mu.Unlock()
	if f.module == nil {
		vars["var"] = objectOf(ex.vars)
	} else {
		vars["param"] = objectOf(f.params)
	}
	vars["local"] = objectOf(f.locals)
	vars["path"] = cty.ObjectVal(map[string]cty.Value{
		"role":     cty.StringVal(cmp.Or(f.roleDir, ex.pb.absDir())),
		"playbook": cty.StringVal(ex.pb.absDir()),
	})
	vars["run"] = cty.ObjectVal(map[string]cty.Value{"tags": stringList(ex.opts.Selection.Tags)})
	if f.each != cty.NilVal {
		vars["each"] = f.each
	}
	if f.failure != cty.NilVal {
		vars["failure"] = f.failure
	}
	if f.phase.root != "" {
		vars[f.phase.root] = f.phase.value
	}
	return &hcl.EvalContext{Variables: vars, Functions: functions}
}

// env is what a task of f's steps is handed. Its Vars (a template's data)
// are, in the playbook's scope, the variables and locals; in a module,
// only path (.path.role, .path.playbook): what a template there needs, the
// task passes in its vars.
func (ex *executor) env(t *TaskDecl, f frame) *tasks.Env {
	data := map[string]any{"path": map[string]any{"role": cmp.Or(f.roleDir, ex.pb.absDir()), "playbook": ex.pb.absDir()}}
	if f.module == nil {
		data = ex.data.forLocals(f.locals)
	}
	return &tasks.Env{
		BaseDir: t.BaseDir,
		Vars:    data,
		Progress: func(format string, args ...any) {
			ex.printer.Progress(t.Kind+" "+quote(t.Name), fmt.Sprintf(format, args...))
		},
		Shared: ex.shared,
		Diff:   ex.opts.Diff,
		Redact: ex.secrets.String,
	}
}

// moduleFrame is the scope of module r's steps where inc includes it from
// f: param.* from the include's vars (evaluated where the include is
// written) or the defaults, converted to each param's type; r's vars as
// local.*. Nothing else of f is visible in it.
func (ex *executor) moduleFrame(r *Role, inc *Include, f frame) (frame, error) {
	given := map[string]cty.Value{}
	if inc.Vars != nil {
		v, diags := inc.Vars.Value(ex.evalContext(f))
		if diags.HasErrors() {
			return frame{}, diagError(diags)
		}
		if v.IsNull() || !v.Type().IsObjectType() && !v.Type().IsMapType() {
			return frame{}, attrError(inc.Vars, "an include's vars must be an object of the module's params, e.g. vars = { name = \"value\" }")
		}
		for it := v.ElementIterator(); it.Next(); {
			k, val := it.Element()
			given[k.AsString()] = val
		}
	}
	for _, k := range sortedKeys(given) {
		if r.param(k) == nil {
			return frame{}, diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown param " + quote(k),
				Detail:  fmt.Sprintf("Role %q takes no param %q.%s", r.Name, k, didYouMean(k, paramNames(r))),
				Subject: inc.DeclRange.Ptr()}})
		}
	}
	params := make(map[string]cty.Value, len(r.Params))
	for _, p := range r.Params {
		v, ok := given[p.Name]
		if !ok {
			if p.Default == nil {
				return frame{}, diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing param",
					Detail: fmt.Sprintf("Role %q needs param %q: give it in the include's vars.", r.Name, p.Name), Subject: inc.DeclRange.Ptr()}})
			}
			var d hcl.Diagnostics
			if v, d = p.Default.Value(nil); d.HasErrors() {
				return frame{}, diagError(d)
			}
		}
		cv, err := convert.Convert(v, p.Type)
		if err != nil {
			return frame{}, diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid param " + quote(p.Name),
				Detail: fmt.Sprintf("Role %q takes %s as %s: %s.", r.Name, p.Name, p.Type.FriendlyName(), err), Subject: inc.DeclRange.Ptr()}})
		}
		params[p.Name] = cv
	}
	inner := frame{
		play: f.play, role: f.role, tags: concatTags(f.tags, r.Tags), label: f.label,
		notified: f.notified, handlers: r.Handlers, own: f.own,
		module: r, params: params, roleDir: r.Dir, locals: map[string]cty.Value{},
	}
	if r.Vars != nil {
		var err error
		if inner.locals, err = ex.withVars(inner.locals, r.Vars, inner); err != nil {
			return frame{}, err
		}
	}
	return inner, nil
}

// absDir is path.playbook: the playbook's directory, absolute.
func (pb *Playbook) absDir() string {
	if pb.abs == "" {
		pb.abs = absPath(pb.Dir)
	}
	return pb.abs
}
