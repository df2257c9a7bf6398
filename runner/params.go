package runner

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
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
// default) is the role's local.NAME, converted to Type.
type Param struct {
	Name        string
	Description string
	Type        typeSpec
	Default     hcl.Expression // nil: required
	DeclRange   hcl.Range
}

func decodeParam(b *hcl.Block) (*Param, hcl.Diagnostics) {
	content, diags := b.Body.Content(paramSchema)
	p := &Param{Name: b.Labels[0], DeclRange: b.DefRange, Type: anyType}
	if a, ok := content.Attributes["type"]; ok {
		t, d := parseType(a.Expr)
		diags = append(diags, d...)
		p.Type = t
	}
	if a, ok := content.Attributes["default"]; ok {
		p.Default = a.Expr
		if len(a.Expr.Variables()) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Param default refers to other values",
				Detail: "A param's default must be a literal.", Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeStatic(a.Expr, &p.Description)...)
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

// checkParams checks every include of a role with params: no unknown
// key, no required param left out.
func (pb *Playbook) checkParams() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(pb.Roles) {
		for _, inc := range includesOf(pb.Roles[name].Steps) {
			r := pb.Roles[inc.Role]
			if r == nil || len(r.Params) == 0 {
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

// withParams gives an included role its params as locals: the include's
// value converted to the param's type, else the default.
func (ex *executor) withParams(r *Role, inc *Include, locals map[string]cty.Value) (map[string]cty.Value, error) {
	if len(r.Params) == 0 {
		return locals, nil
	}
	given, _ := includeKeys(inc)
	out := maps.Clone(locals)
	for _, p := range r.Params {
		v, ok := locals[p.Name]
		if _, isGiven := given[p.Name]; !isGiven {
			if p.Default == nil {
				if !ok {
					return nil, diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing param", Detail: fmt.Sprintf("Role %q needs param %q.", r.Name, p.Name), Subject: inc.DeclRange.Ptr()}})
				}
			} else {
				dv, d := p.Default.Value(nil)
				if d.HasErrors() {
					return nil, diagError(d)
				}
				v = dv
			}
		}
		cv, err := convert.Convert(v, p.Type)
		if err != nil {
			return nil, diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid param " + quote(p.Name),
				Detail: fmt.Sprintf("Role %q takes %s as %s: %s.", r.Name, p.Name, p.Type.FriendlyName(), err), Subject: inc.DeclRange.Ptr()}})
		}
		out[p.Name] = cv
	}
	ex.data.derived(out, locals, paramNames(r))
	return out, nil
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
