package tasks

// Helpers shared by the Docker Compose task kinds (compose_*, wait_healthy,
// proxy, proxy_reload).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/zdplay/zdplay/internal/docker"
)

// composeRequire fails when a required attribute is empty: gohcl only checks
// that it is present.
func composeRequire(kind string, attrs ...string) error {
	for i := 0; i+1 < len(attrs); i += 2 {
		if strings.TrimSpace(attrs[i+1]) == "" {
			return fmt.Errorf("%s: attribute %s is empty: set it", kind, attrs[i])
		}
	}
	return nil
}

// loadCompose loads a task's compose file (a problem with it is reported
// first: it needs no engine), then returns the run's Docker connection. In a
// --check run, what an earlier task staged for the file is what loads.
func loadCompose(ctx context.Context, env *Env, kind, file, project string) (*docker.Client, *types.Project, error) {
	if err := composeRequire(kind, "file", file, "project", project); err != nil {
		return nil, nil, err
	}
	path := file // relative to the working directory, like every path but a template's src
	p, err := docker.LoadProjectContent(ctx, path, composeStaged(env, path), project)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kind, err)
	}
	c, err := composeDocker(ctx, env, kind)
	if err != nil {
		return nil, nil, err
	}
	return c, p, nil
}

// loadServices is loadCompose for a kind that takes service or services:
// it also returns their names, each checked to be in the compose file.
func loadServices(ctx context.Context, env *Env, kind, file, project, service string, services []string) (*docker.Client, *types.Project, []string, error) {
	names, err := composeNames(kind, service, services)
	if err != nil {
		return nil, nil, nil, err
	}
	c, p, err := loadCompose(ctx, env, kind, file, project)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, name := range names {
		if err := composeService(kind, p, name); err != nil {
			return nil, nil, nil, err
		}
	}
	return c, p, names, nil
}

// loadService is loadCompose for a kind that acts on one service, which
// the compose file must declare.
func loadService(ctx context.Context, env *Env, kind, file, project, service string) (*docker.Client, *types.Project, error) {
	c, p, err := loadCompose(ctx, env, kind, file, project)
	if err != nil {
		return nil, nil, err
	}
	if err := composeService(kind, p, service); err != nil {
		return nil, nil, err
	}
	return c, p, nil
}

// serviceState is whether a service must be recreated to match the
// compose file, and why (docker.Client.Outdated).
type serviceState struct {
	name, why string
	outdated  bool
}

// outdatedStates loads the services (loadServices) and asks Outdated of
// each, in order: the question compose_outdated answers and
// compose_recreate's Check asks first.
func outdatedStates(ctx context.Context, env *Env, kind, file, project, service string, services []string) ([]serviceState, error) {
	c, p, names, err := loadServices(ctx, env, kind, file, project, service, services)
	if err != nil {
		return nil, err
	}
	states := make([]serviceState, 0, len(names))
	for _, name := range names {
		out, why, err := c.Outdated(ctx, p, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		states = append(states, serviceState{name: name, why: why, outdated: out})
	}
	return states, nil
}

// composeDocker is the run's Docker connection.
func composeDocker(ctx context.Context, env *Env, kind string) (*docker.Client, error) {
	if env == nil || env.Shared == nil {
		return nil, fmt.Errorf("%s: no shared run state (Env.Shared is nil): the runner must set it", kind)
	}
	c, err := env.Shared.Docker(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return c, nil
}

// composeProgress makes the Compose SDK's steps show as the task's progress.
func composeProgress(ctx context.Context, env *Env) context.Context {
	if env == nil || env.Progress == nil {
		return ctx
	}
	return docker.WithProgress(ctx, env.Progressf)
}

// composeService fails when the project has no such service.
func composeService(kind string, p *types.Project, name string) error {
	if _, ok := p.Services[name]; !ok {
		return fmt.Errorf("%s: compose project %s (%s) has no service %q; its services: %s",
			kind, p.Name, strings.Join(p.ComposeFiles, ","), name, strings.Join(p.ServiceNames(), ", "))
	}
	return nil
}

// composeDuration reads an optional duration attribute ("60s", "100ms").
func composeDuration(kind, attr, v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %s = %q is not a positive duration: write it like \"60s\", \"1m30s\" or \"100ms\"", kind, attr, v)
	}
	return d, nil
}

// composeStaged is what an earlier task of a --check run staged for path
// (a compose file rendered at the new release), nil when none did.
func composeStaged(env *Env, path string) []byte {
	if env == nil || env.Shared == nil {
		return nil
	}
	staged, _ := env.Shared.Staged(path)
	return staged
}

// composeReadFile reads a file, or what a --check run staged for it.
func composeReadFile(env *Env, path string) ([]byte, error) {
	if env != nil && env.Shared != nil {
		return env.Shared.ReadFile(path)
	}
	return os.ReadFile(path)
}

// composeBound is how long a kind may wait: the time left before ctx's
// deadline (the task's timeout, or the kind's DefaultTimeout, both set by the
// runner) less a margin, so that the kind reports its own clearer error
// before the deadline cuts it off; def when ctx has no deadline.
func composeBound(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		return max(left-min(100*time.Millisecond, left/10), time.Millisecond)
	}
	return def
}

// composeNoContainer tells a service without container from other errors.
func composeNoContainer(err error) bool { return errors.Is(err, docker.ErrNoContainer) }

// composeNames is a kind's `service` or `services`: exactly one of them.
func composeNames(kind, service string, services []string) ([]string, error) {
	switch {
	case service != "" && len(services) > 0:
		return nil, fmt.Errorf("%s: give service or services, not both", kind)
	case service != "":
		return []string{service}, nil
	case len(services) > 0:
		return services, nil
	}
	return nil, fmt.Errorf("%s: give service = \"NAME\" or services = [\"NAME\", ...]", kind)
}
