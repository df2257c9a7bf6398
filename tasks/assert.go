package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Assert fails with a message when a condition is false. It never changes
// anything. To fail unconditionally (the end of a rescue), use `fail`.
//
//	task "assert" "enough replicas" {
//	  that     = [var.replicas >= 2, var.port > 1024]
//	  fail_msg = "zero-downtime upgrades need at least 2 replicas"
//	}
type Assert struct {
	That       cty.Value `hcl:"that"`
	FailMsg    string    `hcl:"fail_msg,optional"`
	SuccessMsg string    `hcl:"success_msg,optional"`
}

var _ Task = (*Assert)(nil)

func init() { Register("assert", func() Task { return &Assert{} }) }

func (t *Assert) Check(ctx context.Context, env *Env) (Result, error) { return t.Apply(ctx, env) }

func (t *Assert) Apply(ctx context.Context, env *Env) (Result, error) {
	conds := []cty.Value{t.That}
	if ty := t.That.Type(); ty.IsListType() || ty.IsTupleType() || ty.IsSetType() {
		conds = conds[:0]
		for it := t.That.ElementIterator(); it.Next(); {
			_, v := it.Element()
			conds = append(conds, v)
		}
	}
	for i, c := range conds {
		b, err := convert.Convert(c, cty.Bool)
		if err != nil || b.IsNull() || !b.IsKnown() {
			return Result{}, fmt.Errorf("that[%d] is not true or false", i)
		}
		if b.False() {
			msg := t.FailMsg
			if msg == "" {
				msg = fmt.Sprintf("assertion that[%d] is false", i)
			}
			return Result{Msg: msg}, errors.New(msg)
		}
	}
	return Result{Msg: t.SuccessMsg}, nil
}
