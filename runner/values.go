package runner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// typeSpec is a variable's declared type constraint.
type typeSpec = cty.Type

var anyType = cty.DynamicPseudoType

func parseType(expr hcl.Expression) (typeSpec, hcl.Diagnostics) {
	return typeexpr.TypeConstraint(expr)
}

// decodeStatic decodes an expression that may not refer to anything (tags,
// names, descriptions): these are known before any variable is.
func decodeStatic(expr hcl.Expression, target any) hcl.Diagnostics {
	return gohcl.DecodeExpression(expr, nil, target)
}

// staticStrings reads a literal list of strings, with each element's range.
func staticStrings(expr hcl.Expression) ([]string, []hcl.Range, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		var list []string
		d := decodeStatic(expr, &list)
		return list, nil, d
	}
	var out []string
	var ranges []hcl.Range
	for _, e := range exprs {
		var s string
		d := decodeStatic(e, &s)
		diags = append(diags, d...)
		out = append(out, s)
		ranges = append(ranges, e.Range())
	}
	return out, ranges, diags
}

func checkStaticStrings(expr hcl.Expression) hcl.Diagnostics {
	_, _, diags := staticStrings(expr)
	return diags
}

// didYouMean suggests the nearest of candidates, as hcl does for attributes.
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// objectOf builds the cty object that an expression sees as var, local, etc.
func objectOf(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// truthy evaluates a `when`-like condition.
func truthy(expr hcl.Expression, ctx *hcl.EvalContext, what string) (bool, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return false, diags
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil || b.IsNull() || !b.IsKnown() {
		return false, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what,
			Detail:   fmt.Sprintf("%s must be true or false; this is %s.", what, v.Type().FriendlyName()),
			Subject:  expr.Range().Ptr(),
		}}
	}
	return b.True(), nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// describe renders a value for humans, hiding it when sensitive.
func describe(v cty.Value) string {
	if !v.IsKnown() {
		return "(known after apply)"
	}
	if v.IsNull() {
		return "null"
	}
	switch v.Type() {
	case cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case cty.Bool:
		return fmt.Sprint(v.True())
	}
	return strings.TrimSpace(fmt.Sprintf("%#v", v))
}
