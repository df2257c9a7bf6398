package tasks

import (
	"context"
	"fmt"
)

// ComposeOutdated tells whether a service must be recreated to match the
// compose file, and changes nothing: Changed is true when the service has no
// running container, when its container's config hash differs from the
// file's (image tag, environment, command... changed), or when its image tag
// now names another image (rebuilt). Msg says which. Check and Apply do the
// same, so `when` works in --check runs too.
//
//	task "compose_outdated" "is app_1 outdated" {
//	  file     = "../compose.yaml"
//	  project  = var.project
//	  service  = "app_1"
//	  register = "app_1_outdated"
//	}
//	# later: when = app_1_outdated.changed
type ComposeOutdated struct {
	File    string `hcl:"file"`
	Project string `hcl:"project"`
	Service string `hcl:"service"`
}

var _ Task = (*ComposeOutdated)(nil)

func init() { Register("compose_outdated", func() Task { return &ComposeOutdated{} }) }

// Check is Apply: it only reads.
func (t *ComposeOutdated) Check(ctx context.Context, env *Env) (Result, error) {
	return t.Apply(ctx, env)
}

// Apply reports whether the service is outdated.
func (t *ComposeOutdated) Apply(ctx context.Context, env *Env) (Result, error) {
	if err := composeRequire("compose_outdated", "service", t.Service); err != nil {
		return Result{}, err
	}
	c, p, err := loadCompose(ctx, env, "compose_outdated", t.File, t.Project)
	if err != nil {
		return Result{}, err
	}
	if err := composeService("compose_outdated", p, t.Service); err != nil {
		return Result{}, err
	}
	out, why, err := c.Outdated(ctx, p, t.Service)
	if err != nil {
		return Result{}, fmt.Errorf("compose_outdated: %w", err)
	}
	if out {
		return Result{Changed: true, Msg: t.Service + " outdated: " + why}, nil
	}
	return Result{Msg: t.Service + " " + why}, nil
}
