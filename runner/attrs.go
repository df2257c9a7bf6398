package runner

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

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
