package runner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// blockParam declares what a role takes from where it is included: its
// interface as a module. An include must give every param without a
// default and nothing else; both are checked when the playbook loads.
//
//	param "batch" {
//	  type        = list(string)
//	  default     = []
//	  description = "the services to replace"
//	}
const blockParam = "param"

var paramSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}},
}

// Param is one declared parameter of a role; the include's value (or the
// default), converted to Type, is param.NAME in the role.
type Param struct {
	Name        string
	Description string
	Type        typeSpec
	Default     hcl.Expression // nil: required
	DeclRange   hcl.Range
}

func decodeParam(b *hcl.Block) (*Param, hcl.Diagnostics) {
	v, diags := decodeTyped(b, paramSchema)
	p := &Param{Name: v.Name, Description: v.Description, Type: v.Type, Default: v.Default, DeclRange: v.DeclRange}
	if p.Default != nil && len(p.Default.Variables()) > 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Param default refers to other values",
			Detail: "A param's default must be a literal.", Subject: p.Default.Range().Ptr()})
	}
	return p, diags
}

func (r *Role) param(name string) *Param {
	for _, p := range r.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// checkParams checks every include of a module: no unknown key, no
// required param left out; that a module includes only modules (what it
// includes cannot see a scope it does not have); and that no play lists
// one (a play gives no params).
func (pb *Playbook) checkParams() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range pb.Plays {
		for i, name := range p.RoleNames {
			if r := pb.Roles[name]; r != nil && r.IsModule() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A module in a play",
					Detail:  fmt.Sprintf("Role %q declares params: it is a module, which a role includes with its params (include %q { vars = { ... } }); a play lists roles without params.", name, name),
					Subject: p.RoleRange[i].Ptr()})
			}
		}
	}
	for _, name := range sortedKeys(pb.Roles) {
		from := pb.Roles[name]
		for _, inc := range includesOf(from.Steps) {
			r := pb.Roles[inc.Role]
			if r != nil && from.IsModule() && !r.IsModule() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A module includes a role without params",
					Detail:  fmt.Sprintf("Module %q includes %q, which would see the playbook's scope that %q does not have; declare what %q reads as params (param \"name\" {}) and pass them.", from.Name, r.Name, from.Name, r.Name),
					Subject: inc.DeclRange.Ptr()})
			}
			if r == nil || !r.IsModule() {
				continue
			}
			given, ok := includeKeys(inc)
			if !ok {
				continue // not an object literal: checked when it runs
			}
			for _, key := range sortedKeys(given) {
				if r.param(key) == nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown param " + quote(key),
						Detail:  fmt.Sprintf("Role %q takes no param %q.%s Its params: %s.", r.Name, key, didYouMean(key, paramNames(r)), strings.Join(paramNames(r), ", ")),
						Subject: given[key].Ptr()})
				}
			}
			var missing []string
			for _, p := range r.Params {
				if _, ok := given[p.Name]; p.Default == nil && !ok {
					missing = append(missing, p.Name)
				}
			}
			if len(missing) > 0 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing param",
					Detail:  fmt.Sprintf("Role %q needs %s: give it in the include's vars.", r.Name, strings.Join(missing, ", ")),
					Subject: inc.DeclRange.Ptr()})
			}
		}
	}
	return diags
}

func paramNames(r *Role) []string {
	var out []string
	for _, p := range r.Params {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// includeKeys are the keys an include's vars give, with where each is
// written; ok is false when vars is not an object literal.
func includeKeys(inc *Include) (keys map[string]hcl.Range, ok bool) {
	keys = map[string]hcl.Range{}
	if inc.Vars == nil {
		return keys, true
	}
	pairs, d := hcl.ExprMap(inc.Vars)
	if d.HasErrors() {
		return keys, false
	}
	for _, p := range pairs {
		var key string
		if !decodeStatic(p.Key, &key).HasErrors() {
			keys[key] = p.Key.Range()
		}
	}
	return keys, true
}
