package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zdplay/zdplay/tasks"
)

// reservedRoots are the names expressions start from; a registered result
// may not take one of them.
var reservedRoots = map[string]bool{"var": true, "local": true, "each": true, "path": true, "failure": true, "rollout": true}

// scopeNames is what an expression may refer to at some point of the tree.
type scopeNames struct {
	vars       map[string]bool
	locals     map[string]bool
	registered map[string]bool
	inLoop     bool
	inRescue   bool
	inRollout  bool
}

// validate checks what can be checked before anything runs: task kinds and
// their attributes, references to variables, locals, each and registered
// results, and handler names.
func (pb *Playbook) validate() hcl.Diagnostics {
	names := scopeNames{vars: map[string]bool{}, locals: map[string]bool{}, registered: map[string]bool{}}
	for _, v := range pb.Variables {
		names.vars[v.Name] = true
	}
	for _, a := range pb.Locals {
		names.locals[a.Name] = true
	}
	var diags hcl.Diagnostics
	for _, r := range pb.Roles {
		addVarsKeys(r.Vars, names.locals)
		for _, inc := range includesOf(r.Steps) {
			addVarsKeys(inc.Vars, names.locals)
		}
		walkTasks(r.Steps, func(t *TaskDecl) {
			if t.Register != "" {
				names.registered[t.Register] = true
			}
		})
	}
	for _, p := range pb.Plays {
		addVarsKeys(p.Vars, names.locals)
		diags = append(diags, names.checkRefs(p.Vars)...)
	}
	for _, v := range pb.Variables {
		if v.Default != nil && len(v.Default.Variables()) > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Variable default refers to other values",
				Detail:   "A default must be a literal; compute derived values in a locals block.",
				Subject:  v.Default.Range().Ptr(),
			})
		}
	}
	for _, a := range pb.Locals {
		diags = append(diags, names.checkRefs(a.Expr)...)
	}
	included := pb.includedRoles()
	for _, name := range sortedKeys(pb.Roles) {
		r := pb.Roles[name]
		names := names
		names.inLoop = included[name] // an included role sees the each of where it is included
		diags = append(diags, names.checkRefs(r.Vars)...)
		handlers := map[string]bool{}
		var handlerNames []string
		for _, h := range r.Handlers {
			handlers[h.Name] = true
			handlerNames = append(handlerNames, h.Name)
			diags = append(diags, names.checkTask(h)...)
		}
		diags = append(diags, names.checkSteps(r.Steps, handlers, handlerNames)...)
	}
	return diags
}

func addVarsKeys(expr hcl.Expression, into map[string]bool) {
	if expr == nil {
		return
	}
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return
	}
	for _, p := range pairs {
		var key string
		if decodeStatic(p.Key, &key) == nil {
			into[key] = true
		}
	}
}

func walkTasks(steps []Step, fn func(*TaskDecl)) {
	for _, s := range steps {
		switch s := s.(type) {
		case *TaskDecl:
			fn(s)
		case *Group:
			walkTasks(s.Steps, fn)
			walkTasks(s.Rescue, fn)
		}
	}
}

func (n scopeNames) checkSteps(steps []Step, handlers map[string]bool, handlerNames []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, s := range steps {
		switch s := s.(type) {
		case *TaskDecl:
			diags = append(diags, n.checkTask(s)...)
			for _, h := range s.Notify {
				if !handlers[h] {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Unknown handler " + quote(h),
						Detail:   fmt.Sprintf("Task %q notifies a handler its role does not define.%s", s.Name, didYouMean(h, handlerNames)),
						Subject:  s.DeclRange.Ptr(),
					})
				}
			}
		case *Include:
			diags = append(diags, n.checkRefs(s.Vars)...)
		case *Group:
			inner := n
			if s.Rollout != nil {
				for _, e := range s.Rollout.Attrs {
					diags = append(diags, n.checkRefs(e)...)
				}
				inner.inRollout = true
			}
			diags = append(diags, n.checkRefs(s.ForEach)...)
			inner.inLoop = n.inLoop || s.ForEach != nil
			diags = append(diags, inner.checkRefs(s.When)...)
			diags = append(diags, n.checkRefs(s.Parallel)...)
			diags = append(diags, n.checkRefs(s.Pause)...)
			diags = append(diags, n.checkRefs(s.MaxFailureRatio)...)
			diags = append(diags, inner.checkSteps(s.Steps, handlers, handlerNames)...)
			rescue := inner
			rescue.inRescue = true
			diags = append(diags, rescue.checkSteps(s.Rescue, handlers, handlerNames)...)
		}
	}
	return diags
}

// checkTask checks a task's kind and the attributes its kind accepts.
func (n scopeNames) checkTask(t *TaskDecl) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, e := range []hcl.Expression{t.When, t.IgnoreErrors, t.Retries, t.Delay, t.Timeout} {
		diags = append(diags, n.checkRefs(e)...)
	}
	if t.Kind == flushHandlers {
		_, d := t.Body.Content(&hcl.BodySchema{})
		return append(diags, d...)
	}
	kind, ok := tasks.Lookup(t.Kind)
	if !ok {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown task kind " + quote(t.Kind),
			Detail:   fmt.Sprintf("No task kind by that name.%s Known kinds: %s.", didYouMean(t.Kind, append(tasks.Names(), flushHandlers)), strings.Join(tasks.Names(), ", ")),
			Subject:  t.DeclRange.Ptr(),
		})
	}
	schema, _ := gohcl.ImpliedBodySchema(kind.New())
	content, d := t.Body.Content(schema)
	diags = append(diags, d...)
	for _, a := range content.Attributes {
		diags = append(diags, n.checkRefs(a.Expr)...)
	}
	return diags
}

// checkRefs reports references to names that cannot exist where expr is.
func (n scopeNames) checkRefs(expr hcl.Expression) hcl.Diagnostics {
	if expr == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		attr := ""
		if len(tr) > 1 {
			if a, ok := tr[1].(hcl.TraverseAttr); ok {
				attr = a.Name
			}
		}
		var problem string
		switch {
		case root == "var":
			if attr != "" && !n.vars[attr] {
				problem = fmt.Sprintf("No variable %q is declared.%s", attr, didYouMean(attr, sortedKeys(n.vars)))
			}
		case root == "local":
			if attr != "" && !n.locals[attr] {
				problem = fmt.Sprintf("No local or vars entry %q is declared.%s", attr, didYouMean(attr, sortedKeys(n.locals)))
			}
		case root == "each":
			if !n.inLoop {
				problem = "each.key and each.value exist only inside a block or serial with for_each."
			} else if attr != "" && attr != "key" && attr != "value" {
				problem = fmt.Sprintf("each has key and value, not %q.", attr)
			}
		case root == "failure":
			if !n.inRescue {
				problem = "failure.* (task, error, tolerated, failed, items) exists only inside a rescue."
			} else if attr != "" && !slices.Contains([]string{"task", "error", "tolerated", "failed", "items"}, attr) {
				problem = fmt.Sprintf("failure has task, error, tolerated, failed and items, not %q.%s", attr, didYouMean(attr, []string{"task", "error", "tolerated", "failed", "items"}))
			}
		case root == "rollout":
			if !n.inRollout {
				problem = "rollout.* exists only inside the phases of a rollout block."
			} else if attr != "" && !slices.Contains(rolloutValueAttrs, attr) {
				problem = fmt.Sprintf("rollout has %s, not %q.%s", strings.Join(rolloutValueAttrs, ", "), attr, didYouMean(attr, rolloutValueAttrs))
			}
		case n.registered[root]:
		default:
			problem = fmt.Sprintf("%q is not a variable (var.NAME), a local (local.NAME), each.key/each.value, nor a name some task registers.%s",
				root, didYouMean(root, append(sortedKeys(n.registered), "var", "local", "each")))
		}
		if problem != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown reference",
				Detail:   problem,
				Subject:  tr.SourceRange().Ptr(),
			})
		}
	}
	return diags
}
