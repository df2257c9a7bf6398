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
var reservedRoots = map[string]bool{"var": true, "local": true, "param": true, "each": true, "path": true, "failure": true, "rollout": true, "bluegreen": true, "run": true}

// scopeNames is what an expression may refer to at some point of the tree.
type scopeNames struct {
	vars       map[string]bool
	locals     map[string]bool
	anyLocal   bool // some vars that supply locals are not a literal object: their keys are unknown
	registered map[string]bool
	inLoop     bool
	inRescue   bool
	in         *construct // whose phases these are: KIND.* exists
	// module names the module whose steps these are ("": the playbook's
	// scope); params are its params. elsewhere are the names other roles
	// register, which a module does not see.
	module    string
	params    map[string]bool
	elsewhere map[string]bool
}

// moduleNames is the scope of module r's steps: its params, its vars as
// locals, its own registered results; no variable.
func moduleNames(r *Role, registered map[string]bool) scopeNames {
	n := scopeNames{vars: map[string]bool{}, locals: map[string]bool{}, registered: r.registers,
		module: r.Name, params: map[string]bool{}, elsewhere: registered}
	n.anyLocal = !addVarsKeys(r.Vars, n.locals)
	for _, p := range r.Params {
		n.params[p.Name] = true
	}
	return n
}

// notInModule is the detail of a module's reference to its includer's scope.
func (n scopeNames) notInModule(ref string) string {
	return fmt.Sprintf("%s is not visible in %q, a module (it declares params): modules see only param.*; pass it as a param: param \"name\" {} in %q, name = %s in the include's vars.", ref, n.module, n.module, ref)
}

// checkReferences checks, when the playbook loads, what needs no value:
// task kinds and their attributes, references to variables, locals,
// params, each and registered results (in a module's scope or the
// playbook's), and handler names. (Validate, the one thing called so, is
// the check with values: what a run does before its first task.)
func (pb *Playbook) checkReferences() hcl.Diagnostics {
	names := scopeNames{vars: map[string]bool{}, locals: map[string]bool{}, registered: map[string]bool{}}
	for _, v := range pb.Variables {
		names.vars[v.Name] = true
	}
	for _, a := range pb.Locals {
		names.locals[a.Name] = true
	}
	var diags hcl.Diagnostics
	for _, r := range pb.Roles {
		walkTasks(r.Steps, func(t *TaskDecl) {
			if t.Register != "" {
				names.registered[t.Register] = true
			}
		})
	}
	for _, p := range pb.Plays {
		diags = append(diags, names.checkRefs(p.Vars)...)
	}
	scopes := pb.roleLocals(names.locals)
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
		if r.IsModule() {
			names = moduleNames(r, names.registered)
		} else {
			names.inLoop = included[name] // an included role sees the each of where it is included
			sc := scopes.of(name)
			names.locals, names.anyLocal = sc.keys, sc.any
		}
		varsNames := names
		if r.IsModule() {
			varsNames.locals, varsNames.anyLocal = map[string]bool{}, false // a module's vars are made from its params alone
		}
		diags = append(diags, varsNames.checkRefs(r.Vars)...)
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

// addVarsKeys adds the keys of a vars object to into; false when they are
// not all literal (then which locals exist is not known before the run).
func addVarsKeys(expr hcl.Expression, into map[string]bool) bool {
	if expr == nil {
		return true
	}
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return false
	}
	ok := true
	for _, p := range pairs {
		var key string
		if decodeStatic(p.Key, &key) == nil {
			into[key] = true
		} else {
			ok = false
		}
	}
	return ok
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
			if s.Phased != nil {
				for _, e := range s.Phased.Attrs {
					diags = append(diags, n.checkRefs(e)...)
				}
				inner.in = s.Phased.construct
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
		case root == "var" && n.module != "":
			problem = n.notInModule("var." + attr)
		case root == "var":
			if attr != "" && !n.vars[attr] {
				problem = fmt.Sprintf("No variable %q is declared.%s", attr, didYouMean(attr, sortedKeys(n.vars)))
			}
		case root == "local" && n.module != "" && attr != "" && !n.locals[attr] && !n.anyLocal:
			problem = n.notInModule("local." + attr)
		case root == "local":
			if attr != "" && !n.locals[attr] && !n.anyLocal {
				problem = fmt.Sprintf("No local or vars entry %q is declared.%s", attr, didYouMean(attr, sortedKeys(n.locals)))
			}
		case root == "param":
			if n.module == "" {
				problem = "param.* exists only in a module: a role that declares params."
			} else if attr != "" && !n.params[attr] {
				problem = fmt.Sprintf("Module %q declares no param %q.%s", n.module, attr, didYouMean(attr, sortedKeys(n.params)))
			}
		case root == "path":
			if attr != "" && attr != "role" && attr != "playbook" {
				problem = fmt.Sprintf("path has role (the role file's directory) and playbook (the playbook's), not %q.", attr)
			}
		case root == "run":
			if attr != "" && attr != "tags" {
				problem = fmt.Sprintf("run has tags (the tags -t asked for), not %q.", attr)
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
		case constructs[root] != nil:
			if n.in == nil || n.in.kind != root {
				problem = fmt.Sprintf("%s.* exists only inside the phases of a %s block.", root, root)
			} else if attr != "" && !slices.Contains(n.in.values, attr) {
				problem = fmt.Sprintf("%s has %s, not %q.%s", root, strings.Join(n.in.values, ", "), attr, didYouMean(attr, n.in.values))
			}
		case n.registered[root]:
		case n.module != "" && n.elsewhere[root]:
			problem = fmt.Sprintf("%q is registered by a task outside the module: ", root) + n.notInModule(root)
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

// localScope is the locals a role's steps may read.
type localScope struct {
	keys map[string]bool
	any  bool // unknown keys: do not check
}

// roleScopes computes, per role, the locals every place that runs it
// supplies: the locals blocks, the vars of each play that names it or of
// each include of it (on top of what its includer sees), and its own vars.
// A local that only another include supplies is not among them.
type roleScopes struct {
	pb      *Playbook
	global  map[string]bool
	sites   map[string][]includeSite
	players map[string][]*Play
	memo    map[string]*localScope
}

type includeSite struct {
	from string // the including role
	inc  *Include
}

func (pb *Playbook) roleLocals(global map[string]bool) *roleScopes {
	rs := &roleScopes{pb: pb, global: global, sites: map[string][]includeSite{}, players: map[string][]*Play{}, memo: map[string]*localScope{}}
	for _, name := range sortedKeys(pb.Roles) {
		for _, inc := range includesOf(pb.Roles[name].Steps) {
			rs.sites[inc.Role] = append(rs.sites[inc.Role], includeSite{from: name, inc: inc})
		}
	}
	for _, p := range pb.Plays {
		for _, name := range p.RoleNames {
			rs.players[name] = append(rs.players[name], p)
		}
	}
	return rs
}

func (rs *roleScopes) of(name string) *localScope {
	if sc, ok := rs.memo[name]; ok {
		return sc
	}
	rs.memo[name] = &localScope{any: true} // a cycle (reported elsewhere): do not check
	var sc *localScope
	// meet intersects what the places that run the role supply; unknown
	// keys (any) supply everything.
	meet := func(keys map[string]bool, any bool) {
		switch {
		case sc == nil:
			sc = &localScope{keys: keys, any: any}
		case any:
		case sc.any:
			sc = &localScope{keys: keys}
		default:
			for k := range sc.keys {
				if !keys[k] {
					delete(sc.keys, k)
				}
			}
		}
	}
	for _, p := range rs.players[name] {
		keys := copySet(rs.global)
		meet(keys, !addVarsKeys(p.Vars, keys))
	}
	for _, site := range rs.sites[name] {
		from := rs.of(site.from)
		keys := copySet(from.keys)
		ok := addVarsKeys(site.inc.Vars, keys)
		meet(keys, from.any || !ok)
	}
	if sc == nil { // run by no play nor include: the locals blocks
		sc = &localScope{keys: copySet(rs.global)}
	}
	sc.keys = copySet(sc.keys)
	if !addVarsKeys(rs.pb.Roles[name].Vars, sc.keys) {
		sc.any = true
	}
	rs.memo[name] = sc
	return sc
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
