package tasks

import (
	"context"
	"fmt"
	"strings"
)

// ComposeRecreate stops one service's container, honouring its
// stop_grace_period (SIGTERM, then SIGKILL after the grace period), and
// replaces it with a new container from the compose file, without touching
// its dependencies nor the services that depend on it (like `docker compose
// up -d --no-deps --force-recreate SERVICE`). Anonymous volumes are kept.
// It does not wait for the new container to be healthy: follow it with
// wait_healthy.
//
// Changed is true when it recreated: only when the service was outdated (see
// compose_outdated), unless force = true. Check reports whether it would.
// The image must be present locally.
//
//	task "compose_recreate" "upgrade app_1" {
//	  file    = "../compose.yaml"
//	  project = var.project
//	  service = "app_1"
//	  force   = false   # optional: recreate even when up to date
//	}
type ComposeRecreate struct {
	File    string `hcl:"file"`
	Project string `hcl:"project"`
	Service string `hcl:"service"`
	Force   bool   `hcl:"force,optional"`
}

var _ Task = (*ComposeRecreate)(nil)

func init() { Register("compose_recreate", func() Task { return &ComposeRecreate{} }) }

// Check reports whether Apply would recreate, and why.
func (t *ComposeRecreate) Check(ctx context.Context, env *Env) (Result, error) {
	if err := composeRequire("compose_recreate", "service", t.Service); err != nil {
		return Result{}, err
	}
	c, p, err := loadCompose(ctx, env, "compose_recreate", t.File, t.Project)
	if err != nil {
		return Result{}, err
	}
	if err := composeService("compose_recreate", p, t.Service); err != nil {
		return Result{}, err
	}
	out, why, err := c.Outdated(ctx, p, t.Service)
	if err != nil {
		return Result{}, fmt.Errorf("compose_recreate: %w", err)
	}
	switch {
	case out:
		return Result{Changed: true, Msg: "would recreate " + t.Service + ": " + why}, nil
	case t.Force:
		return Result{Changed: true, Msg: "would recreate " + t.Service + " (force; " + why + ")"}, nil
	}
	return Result{Msg: t.Service + " " + why}, nil
}

// Apply recreates the service when outdated (or forced).
func (t *ComposeRecreate) Apply(ctx context.Context, env *Env) (Result, error) {
	if err := composeRequire("compose_recreate", "service", t.Service); err != nil {
		return Result{}, err
	}
	c, p, err := loadCompose(ctx, env, "compose_recreate", t.File, t.Project)
	if err != nil {
		return Result{}, err
	}
	if err := composeService("compose_recreate", p, t.Service); err != nil {
		return Result{}, err
	}
	res, err := c.Recreate(composeProgress(ctx, env), p, t.Service, t.Force)
	if err != nil {
		return Result{Changed: len(res.Steps) > 0, Msg: strings.Join(res.Steps, "; ")},
			fmt.Errorf("compose_recreate: %w (see `docker ps -a --filter label=com.docker.compose.service=%s` and its logs)", err, t.Service)
	}
	if !res.Changed {
		return Result{Msg: t.Service + " up to date"}, nil
	}
	return Result{Changed: true, Msg: t.Service + " recreated (" + res.Reasons[t.Service] + ")",
		Diff: strings.Join(res.Steps, "\n") + "\n"}, nil
}
