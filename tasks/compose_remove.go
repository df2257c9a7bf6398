package tasks

import (
	"context"
	"fmt"
	"strings"

	"github.com/zdplay/zdplay/internal/docker"
)

// ComposeRemove stops and removes the containers of some services of a
// project, gracefully (SIGTERM, then SIGKILL after grace_period), found by
// Compose's labels: the compose file may no longer list them. It is how
// blue-green retires its idle colour and how a rollout retires the surge
// replicas of a start-first upgrade. Drain them from the proxy first.
// Changed when it removed a container; Check says which it would remove.
//
// The services are named, or, with orphans = true, they are every service
// of the project that has a container but that file no longer lists (what
// `docker compose up --remove-orphans` removes): a surge replica left by an
// interrupted run is found whatever its name.
//
//	task "compose_remove" "idle colour" {
//	  project      = var.project
//	  services     = ["app_green_1"]
//	  grace_period = 15   # optional, seconds, default 10
//	}
//	task "compose_remove" "orphans" {
//	  file    = local.compose
//	  project = var.project
//	  orphans = true
//	}
type ComposeRemove struct {
	Project     string   `hcl:"project"`
	Services    []string `hcl:"services,optional"`
	File        string   `hcl:"file,optional"`
	Orphans     bool     `hcl:"orphans,optional"`
	GracePeriod *int     `hcl:"grace_period,optional"`
}

var _ Task = (*ComposeRemove)(nil)

func init() { Register("compose_remove", func() Task { return &ComposeRemove{} }) }

// Check lists the containers Apply would remove.
func (t *ComposeRemove) Check(ctx context.Context, env *Env) (Result, error) {
	c, services, err := t.targets(ctx, env)
	if err != nil {
		return Result{}, err
	}
	var present []string
	for _, s := range services {
		if ctr, err := c.ContainerOf(ctx, t.Project, s); err == nil {
			present = append(present, ctr.Name)
		} else if !composeNoContainer(err) {
			return Result{}, fmt.Errorf("compose_remove: %w", err)
		}
	}
	if len(present) == 0 {
		return Result{Msg: t.none(services)}, nil
	}
	return Result{Changed: true, Msg: "would remove " + strings.Join(present, ", ")}, nil
}

// Apply removes them.
func (t *ComposeRemove) Apply(ctx context.Context, env *Env) (Result, error) {
	c, services, err := t.targets(ctx, env)
	if err != nil || len(services) == 0 {
		return Result{Msg: t.none(services)}, err
	}
	grace := 10
	if t.GracePeriod != nil {
		grace = *t.GracePeriod
	}
	removed, err := c.RemoveServices(ctx, t.Project, services, grace)
	res := Result{Changed: len(removed) > 0, Msg: "removed " + strings.Join(removed, ", ")}
	if len(removed) == 0 {
		res.Msg = t.none(services)
	}
	if err != nil {
		return res, fmt.Errorf("compose_remove: %w", err)
	}
	return res, nil
}

// targets validates the attributes and returns the services whose
// containers go: the named ones, or the orphans of the file.
func (t *ComposeRemove) targets(ctx context.Context, env *Env) (*docker.Client, []string, error) {
	if err := composeRequire("compose_remove", "project", t.Project); err != nil {
		return nil, nil, err
	}
	switch {
	case t.Orphans && len(t.Services) > 0:
		return nil, nil, fmt.Errorf("compose_remove: set services or orphans = true, not both")
	case t.Orphans:
		if t.File == "" {
			return nil, nil, fmt.Errorf("compose_remove: orphans = true needs file: the compose file whose services stay")
		}
		c, p, err := loadCompose(ctx, env, "compose_remove", t.File, t.Project)
		if err != nil {
			return nil, nil, err
		}
		orphans, err := c.Orphans(ctx, p)
		if err != nil {
			return nil, nil, fmt.Errorf("compose_remove: %w", err)
		}
		return c, orphans, nil
	case len(t.Services) == 0:
		return nil, nil, fmt.Errorf("compose_remove: services is empty: name the services whose containers go, or set orphans = true")
	}
	c, err := composeDocker(ctx, env, "compose_remove")
	return c, t.Services, err
}

// none is the message when there is nothing to remove.
func (t *ComposeRemove) none(services []string) string {
	if len(services) == 0 {
		return "no orphan container: every service with a container is in " + t.File
	}
	return "no container of " + strings.Join(services, ", ")
}
