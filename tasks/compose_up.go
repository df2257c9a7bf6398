package tasks

import (
	"context"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/zdplay/zdplay/internal/docker"
)

// ComposeUp brings services of a compose project up, like `docker compose up
// -d [services]` that recreates only what diverged and never recreates a
// dependency: a selected service (all when services is unset) is created
// when it has no container, started when stopped, and recreated when its
// config hash differs from the file or its image tag now names another
// image; a dependency (depends_on) is only created or started when it does
// not run.
//
// Before changing anything it loads the file and checks that every image the
// selected services and their dependencies run is present locally (zdplay
// never pulls).
//
// Changed is true only when a container was created, recreated or started;
// a second run reports changed=false. Check reports what Apply would do.
//
//	task "compose_up" "start the stack" {
//	  file     = "../compose.yaml"
//	  project  = var.project
//	  services = ["db", "proxy"]   # optional, default every service
//	}
type ComposeUp struct {
	File     string   `hcl:"file"`
	Project  string   `hcl:"project"`
	Services []string `hcl:"services,optional"`
}

var _ Task = (*ComposeUp)(nil)

func init() { Register("compose_up", func() Task { return &ComposeUp{} }) }

// prepare loads the project, checks the services and images.
func (t *ComposeUp) prepare(ctx context.Context, env *Env) (*docker.Client, *types.Project, error) {
	c, p, err := loadCompose(ctx, env, "compose_up", t.File, t.Project)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range t.Services {
		if err := composeService("compose_up", p, s); err != nil {
			return nil, nil, err
		}
	}
	selected, err := p.WithSelectedServices(t.Services)
	if err != nil {
		return nil, nil, fmt.Errorf("compose_up: %w", err)
	}
	if err := c.CheckImages(ctx, selected); err != nil {
		return nil, nil, fmt.Errorf("compose_up: %w", err)
	}
	return c, p, nil
}

// Check reports which services Apply would create, recreate or start.
func (t *ComposeUp) Check(ctx context.Context, env *Env) (Result, error) {
	c, p, err := t.prepare(ctx, env)
	if err != nil {
		return Result{}, err
	}
	plan, err := c.Plan(ctx, p, t.Services...)
	if err != nil {
		return Result{}, fmt.Errorf("compose_up: %w", err)
	}
	if !plan.Changed {
		return Result{Msg: t.what(p) + " up to date"}, nil
	}
	return Result{Changed: true, Msg: "would bring up " + plan.Summary()}, nil
}

// Apply brings the services up where needed.
func (t *ComposeUp) Apply(ctx context.Context, env *Env) (Result, error) {
	c, p, err := t.prepare(ctx, env)
	if err != nil {
		return Result{}, err
	}
	res, err := c.Up(composeProgress(ctx, env), p, t.Services...)
	if err != nil {
		return Result{Changed: len(res.Steps) > 0, Msg: strings.Join(res.Steps, "; ")},
			fmt.Errorf("compose_up: %w (see `docker ps -a --filter label=com.docker.compose.project=%s` and the containers' logs)", err, p.Name)
	}
	if !res.Changed {
		return Result{Msg: t.what(p) + " up to date"}, nil
	}
	return Result{Changed: true, Msg: "brought up " + res.Summary(), Diff: strings.Join(res.Steps, "\n") + "\n"}, nil
}

func (t *ComposeUp) what(p *types.Project) string {
	if len(t.Services) == 0 {
		return p.Name + ":"
	}
	return p.Name + " " + strings.Join(t.Services, ", ") + ":"
}
