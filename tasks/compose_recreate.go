package tasks

import (
	"context"
	"fmt"
	"strings"
)

// ComposeRecreate stops a service's container (or a batch's, at once), honouring its
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
//	  service = "app_1"   # or services = ["app_1", "app_2"]: a batch, at once
//	  force   = false     # optional: recreate even when up to date
//	}
type ComposeRecreate struct {
	File     string   `hcl:"file"`
	Project  string   `hcl:"project"`
	Service  string   `hcl:"service,optional"`
	Services []string `hcl:"services,optional"`
	Force    bool     `hcl:"force,optional"`
}

var _ Task = (*ComposeRecreate)(nil)

func init() { Register("compose_recreate", func() Task { return &ComposeRecreate{} }) }

// names is service, or services: exactly one of them.
// Check reports whether Apply would recreate, and why.
func (t *ComposeRecreate) Check(ctx context.Context, env *Env) (Result, error) {
	states, err := outdatedStates(ctx, env, "compose_recreate", t.File, t.Project, t.Service, t.Services)
	if err != nil {
		return Result{}, err
	}
	var would, current []string
	for _, s := range states {
		switch {
		case s.outdated:
			would = append(would, s.name+": "+s.why)
		case t.Force:
			would = append(would, s.name+" (force; "+s.why+")")
		default:
			current = append(current, s.name+" "+s.why)
		}
	}
	if len(would) > 0 {
		return Result{Changed: true, Msg: "would recreate " + strings.Join(would, "; ")}, nil
	}
	return Result{Msg: strings.Join(current, "; ")}, nil
}

// Apply recreates the services that are outdated (or all, forced), at once.
func (t *ComposeRecreate) Apply(ctx context.Context, env *Env) (Result, error) {
	c, p, names, err := loadServices(ctx, env, "compose_recreate", t.File, t.Project, t.Service, t.Services)
	if err != nil {
		return Result{}, err
	}
	res, err := c.Recreate(composeProgress(ctx, env), p, names, t.Force)
	if err != nil {
		return Result{Changed: len(res.Steps) > 0, Msg: strings.Join(res.Steps, "; ")},
			fmt.Errorf("compose_recreate: %w (see `docker ps -a --filter label=com.docker.compose.project=%s` and the containers' logs)", err, p.Name)
	}
	if !res.Changed {
		return Result{Msg: strings.Join(names, ", ") + " up to date"}, nil
	}
	return Result{Changed: true, Msg: "recreated " + res.Summary(), Diff: strings.Join(res.Steps, "\n") + "\n"}, nil
}
