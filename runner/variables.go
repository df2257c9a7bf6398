package runner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// resolveVariables gives every declared variable its value. Precedence, as in
// Nomad and Terraform: default < -e @file (HCL or JSON, in order) < -e k=v
// (in order). Values are converted to the declared type; an undeclared name,
// a value of the wrong type or a required variable left unset is an error
// that points at where the value came from.
func (pb *Playbook) resolveVariables(extra []string) (map[string]cty.Value, hcl.Diagnostics) {
	values := map[string]cty.Value{}
	pb.rawSecrets = nil
	var diags hcl.Diagnostics

	for _, v := range pb.Variables {
		if v.Default == nil {
			continue
		}
		val, d := v.Default.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			values[v.Name], d = pb.convertVar(v, val, v.Default.Range())
			diags = append(diags, d...)
		}
	}

	given := map[string]bool{}
	var pairs []string
	for _, e := range extra {
		if path, ok := strings.CutPrefix(e, "@"); ok {
			diags = append(diags, pb.readVarFile(path, values, given)...)
		} else {
			pairs = append(pairs, e)
		}
	}
	for _, p := range pairs {
		diags = append(diags, pb.setPair(p, values, given)...)
	}

	for _, v := range pb.Variables {
		if _, ok := values[v.Name]; !ok && !given[v.Name] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing value for variable " + quote(v.Name),
				Detail:   fmt.Sprintf("It has no default: pass one with -e %s=VALUE or in a file given as -e @vars.hcl.", v.Name),
				Subject:  v.DeclRange.Ptr(),
			})
		}
	}
	pb.secrets = pb.redactorFor(values)
	return values, diags
}

func (pb *Playbook) setPair(pair string, values map[string]cty.Value, given map[string]bool) hcl.Diagnostics {
	name, raw, ok := strings.Cut(pair, "=")
	if !ok || name == "" {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid -e value " + quote(pb.secrets.String(pair)),
			Detail:   "Use -e NAME=VALUE, or -e @FILE for a file of variables (.hcl or .json).",
		}}
	}
	v := pb.variable(name)
	if v == nil {
		return hcl.Diagnostics{pb.unknownVariable(name, nil)}
	}
	given[name] = true
	if v.Sensitive {
		pb.rawSecrets = append(pb.rawSecrets, raw)
	}
	// A fake file name, as Nomad does, so errors about the value point somewhere.
	fake := fmt.Sprintf("<value for var.%s from -e>", name)
	rng := hcl.Range{Filename: fake, Start: hcl.InitialPos, End: hcl.Pos{Line: 1, Column: len(raw) + 1, Byte: len(raw)}}
	val := cty.StringVal(raw)
	if v.Type != cty.String && v.Type != anyType && !v.Type.IsPrimitiveType() {
		// A list, map or object is written in HCL: -e 'names=["a", "b"]'.
		var parsed cty.Value
		var diags hcl.Diagnostics
		if diags = checkInput([]byte(raw), fake); !diags.HasErrors() {
			var expr hcl.Expression
			if expr, diags = hclsyntax.ParseExpression([]byte(raw), fake, hcl.InitialPos); !diags.HasErrors() {
				parsed, diags = expr.Value(nil)
			}
		}
		if diags.HasErrors() {
			return hcl.Diagnostics{pb.badExtraValue(v, raw, rng, "write it in HCL syntax, e.g. "+exampleOf(v.Type))}
		}
		val = parsed
	}
	converted, err := convert.Convert(val, v.Type)
	if err != nil {
		return hcl.Diagnostics{pb.badExtraValue(v, raw, rng, err.Error())}
	}
	values[name] = converted
	return nil
}

// badExtraValue says that an -e value does not fit its variable's type:
// var.n: "abc" is not a number (from -e). A sensitive value is not shown.
func (pb *Playbook) badExtraValue(v *Variable, raw string, rng hcl.Range, why string) *hcl.Diagnostic {
	shown := strconv.Quote(raw)
	if v.Sensitive {
		shown = "the value given"
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid value for variable " + quote(v.Name),
		Detail:   fmt.Sprintf("var.%s: %s is not %s (from -e): %s. It is declared at %s.", v.Name, shown, withArticle(v.Type.FriendlyName()), why, v.DeclRange),
		Subject:  rng.Ptr(),
	}
}

func withArticle(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

func exampleOf(t cty.Type) string {
	switch {
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		return `["a", "b"]`
	case t.IsMapType() || t.IsObjectType():
		return `{ key = "value" }`
	}
	return `"text"`
}

func (pb *Playbook) readVarFile(path string, values map[string]cty.Value, given map[string]bool) hcl.Diagnostics {
	f, diags := pb.parseFile(path, "variables file (given as -e @"+path+")")
	if diags.HasErrors() {
		return diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	for _, a := range sortedAttrs(attrs) {
		v := pb.variable(a.Name)
		if v == nil {
			diags = append(diags, pb.unknownVariable(a.Name, a.NameRange.Ptr()))
			continue
		}
		given[a.Name] = true
		if v.Sensitive {
			// Its source text too: a diagnostic's snippet shows the line.
			src := string(a.Expr.Range().SliceBytes(f.Bytes))
			pb.rawSecrets = append(pb.rawSecrets, src, strings.Trim(src, `"`))
			if val, d := a.Expr.Value(nil); !d.HasErrors() {
				pb.rawSecrets = append(pb.rawSecrets, secretLeaves(val)...)
			}
		}
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		converted, d := pb.convertVar(v, val, a.Expr.Range())
		diags = append(diags, d...)
		if !d.HasErrors() {
			values[a.Name] = converted
		}
	}
	return diags
}

func (pb *Playbook) convertVar(v *Variable, val cty.Value, rng hcl.Range) (cty.Value, hcl.Diagnostics) {
	converted, err := convert.Convert(val, v.Type)
	if err != nil {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable " + quote(v.Name),
			Detail:   fmt.Sprintf("It is declared as %s (at %s): %s.", v.Type.FriendlyName(), v.DeclRange, err),
			Subject:  rng.Ptr(),
		}}
	}
	return converted, nil
}

func (pb *Playbook) unknownVariable(name string, subject *hcl.Range) *hcl.Diagnostic {
	var names []string
	for _, v := range pb.Variables {
		names = append(names, v.Name)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Unknown variable " + quote(name),
		Detail:   fmt.Sprintf("The playbook declares no variable %q.%s Declared: %s.", name, didYouMean(name, names), strings.Join(names, ", ")),
		Subject:  subject,
	}
}

// evalLocals evaluates the locals in dependency order.
func (pb *Playbook) evalLocals(vars map[string]cty.Value) (map[string]cty.Value, hcl.Diagnostics) {
	locals := map[string]cty.Value{}
	pending := pb.Locals
	for len(pending) > 0 {
		var next []*hcl.Attribute
		for _, a := range pending {
			if !refsKnown(a.Expr, locals) {
				next = append(next, a)
				continue
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": objectOf(vars), "local": objectOf(locals)}, Functions: functions}
			v, diags := a.Expr.Value(ctx)
			if diags.HasErrors() {
				return locals, diags
			}
			locals[a.Name] = v
		}
		if len(next) == len(pending) {
			a := next[0]
			return locals, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot evaluate local " + quote(a.Name),
				Detail:   "It refers to a local that is not declared, or the locals refer to each other in a cycle.",
				Subject:  a.Range.Ptr(),
			}}
		}
		pending = next
	}
	return locals, nil
}

func refsKnown(expr hcl.Expression, locals map[string]cty.Value) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		if attr, ok := tr[1].(hcl.TraverseAttr); ok {
			if _, known := locals[attr.Name]; !known {
				return false
			}
		}
	}
	return true
}

// redactorFor hides the sensitive variables' values (every string and
// number inside them, lists and maps included) and whatever raw text was
// given for them.
func (pb *Playbook) redactorFor(values map[string]cty.Value) *redactor {
	var names, secrets []string
	for _, v := range pb.Variables {
		if !v.Sensitive {
			continue
		}
		names = append(names, v.Name)
		if val, ok := values[v.Name]; ok && val != cty.NilVal {
			secrets = append(secrets, secretLeaves(val)...)
		}
	}
	return newRedactor(names, append(secrets, pb.rawSecrets...))
}
