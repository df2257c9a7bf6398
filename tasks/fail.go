package tasks

import (
	"context"
	"errors"
)

// Fail fails the run with msg: Ansible's `fail` module. It changes nothing.
// It is what a rescue ends with when the failure it caught must still fail
// the run, saying what state it left; a check on values is an `assert`.
//
//	rescue {
//	  task "fail" "not switched" {
//	    msg = "release ${var.version} did not turn healthy: the proxy was not switched"
//	  }
//	}
type Fail struct {
	Msg string `hcl:"msg"`
}

var _ Task = (*Fail)(nil)

func init() { Register("fail", func() Task { return &Fail{} }) }

// Check fails as Apply does: --check shows the run would fail here.
func (t *Fail) Check(ctx context.Context, env *Env) (Result, error) { return t.Apply(ctx, env) }

// Apply fails with msg.
func (t *Fail) Apply(context.Context, *Env) (Result, error) {
	msg := t.Msg
	if msg == "" {
		msg = "failed (the fail task has an empty msg)"
	}
	return Result{Msg: msg}, errors.New(msg)
}
