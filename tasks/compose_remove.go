package tasks

import (
	"context"
	"fmt"
	"strings"

	"github.com/zdplay/zdplay/internal/docker"
)

// ComposeRemove stops and removes the containers of some services of a
// project, gracefully (SIGTERM, then SIGKILL after grace_period), found by
// Compose's labels: the compose file may no longer list them. It is how a
// start-first upgrade retires its surge replica, or blue-green its idle
// colour. Drain them from the proxy first. Changed when it removed a
// container; Check says which it would remove.
//
//	task "compose_remove" "surge" {
//	  project      = var.project
//	  services     = ["surge"]
//	  grace_period = 15   # optional, seconds, default 10
//	}
type ComposeRemove struct {
	Project     string   `hcl:"project"`
	Services    []string `hcl:"services"`
	GracePeriod *int     `hcl:"grace_period,optional"`
}

var _ Task = (*ComposeRemove)(nil)

func init() { Register("compose_remove", func() Task { return &ComposeRemove{} }) }

// Check lists the containers Apply would remove.
func (t *ComposeRemove) Check(ctx context.Context, env *Env) (Result, error) {
	c, err := t.docker(ctx, env)
	if err != nil {
		return Result{}, err
	}
	var present []string
	for _, s := range t.Services {
		if ctr, err := c.ContainerOf(ctx, t.Project, s); err == nil {
			present = append(present, ctr.Name)
		} else if !composeNoContainer(err) {
			return Result{}, fmt.Errorf("compose_remove: %w", err)
		}
	}
	if len(present) == 0 {
		return Result{Msg: "no container of " + strings.Join(t.Services, ", ")}, nil
	}
	return Result{Changed: true, Msg: "would remove " + strings.Join(present, ", ")}, nil
}

// Apply removes them.
func (t *ComposeRemove) Apply(ctx context.Context, env *Env) (Result, error) {
	c, err := t.docker(ctx, env)
	if err != nil {
		return Result{}, err
	}
	grace := 10
	if t.GracePeriod != nil {
		grace = *t.GracePeriod
	}
	removed, err := c.RemoveServices(ctx, t.Project, t.Services, grace)
	res := Result{Changed: len(removed) > 0, Msg: "removed " + strings.Join(removed, ", ")}
	if len(removed) == 0 {
		res.Msg = "no container of " + strings.Join(t.Services, ", ")
	}
	if err != nil {
		return res, fmt.Errorf("compose_remove: %w", err)
	}
	return res, nil
}

func (t *ComposeRemove) docker(ctx context.Context, env *Env) (*docker.Client, error) {
	if err := composeRequire("compose_remove", "project", t.Project); err != nil {
		return nil, err
	}
	if len(t.Services) == 0 {
		return nil, fmt.Errorf("compose_remove: services is empty: name the services whose containers go")
	}
	return composeDocker(ctx, env, "compose_remove")
}
