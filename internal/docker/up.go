package docker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// UpResult says what Up or Recreate did.
type UpResult struct {
	// Changed is true when a container was created, recreated or started.
	Changed bool
	// Reasons maps each service that had to change to why ("no container",
	// "image app:1 -> app:2"); empty when nothing changed.
	Reasons map[string]string
	// Steps are Compose's finished steps, in order
	// ("Container p-app_1-1 Recreated").
	Steps []string
}

// Summary is one line for a recap: "app_1: image a:1 -> a:2; db: no container".
func (r UpResult) Summary() string {
	if len(r.Reasons) == 0 {
		return "up to date"
	}
	names := slices.Sorted(maps.Keys(r.Reasons))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + r.Reasons[n]
	}
	return strings.Join(parts, "; ")
}

// Plan says, without changing anything, what Up(ctx, project, services...)
// would do: Reasons lists the services it would create, recreate or start.
// The selected services (all when none) are recreated when Outdated; their
// dependencies only when they have no running container (a dependency is
// never recreated because it diverged).
func (c *Client) Plan(ctx context.Context, project *types.Project, services ...string) (UpResult, error) {
	narrowed, targets, err := selectServices(project, services, false)
	if err != nil {
		return UpResult{}, err
	}
	res := UpResult{Reasons: map[string]string{}}
	for _, name := range narrowed.ServiceNames() {
		st, why, err := c.serviceState(ctx, narrowed, name)
		if err != nil {
			return UpResult{}, err
		}
		if st == stateCurrent || (st == stateDiverged && !slices.Contains(targets, name)) {
			continue // a dependency that runs is left as it is
		}
		res.Reasons[name] = why
	}
	res.Changed = len(res.Reasons) > 0
	return res, nil
}

// Up brings the selected services of project (all when none) and their
// dependencies up, like `docker compose up -d [services]` but only where
// needed: a selected service is (re)created when Outdated (a stopped one is
// recreated too, not just started); a dependency is only created or started
// when it does not run, never recreated. When nothing
// needs doing, Compose is not called at all (Changed=false).
//
// Images are never pulled: a missing image is an error before anything is
// changed (see CheckImages).
func (c *Client) Up(ctx context.Context, project *types.Project, services ...string) (UpResult, error) {
	plan, err := c.Plan(ctx, project, services...)
	if err != nil || !plan.Changed {
		return plan, err
	}
	narrowed, targets, err := selectServices(project, services, false)
	if err != nil {
		return UpResult{}, err
	}
	if err := c.CheckImages(ctx, narrowed); err != nil {
		return UpResult{}, err
	}
	// Recreate exactly the selected services that are outdated; every other
	// service follows RecreateDependencies "never" (created if missing,
	// started if stopped, else left alone).
	var recreate []string
	for _, t := range targets {
		if _, ok := plan.Reasons[t]; ok {
			recreate = append(recreate, t)
		}
	}
	opts := upOptions(narrowed, recreate, nil)
	if len(recreate) == 0 {
		opts.Create.Services = targets
		opts.Create.Recreate = api.RecreateNever
	}
	steps, err := c.runUp(ctx, narrowed, opts)
	plan.Steps = steps
	if err != nil {
		return plan, fmt.Errorf("compose up of %s in project %s: %w", strings.Join(slices.Sorted(maps.Keys(plan.Reasons)), ", "), project.Name, err)
	}
	return plan, nil
}

// Recreate stops the containers of services (honouring each service's
// stop_grace_period, the longest for all; the engine's 10s default when
// unset) and replaces them with new ones from the file, in one Compose call
// so that a batch is recreated at once, leaving their dependencies (and the
// services that depend on them) alone, like `docker compose up -d --no-deps
// --force-recreate SERVICE...`. Unless force, only the Outdated ones are
// recreated, and nothing happens (Changed=false) when none is. Anonymous
// volumes are inherited.
func (c *Client) Recreate(ctx context.Context, project *types.Project, services []string, force bool) (UpResult, error) {
	res := UpResult{Reasons: map[string]string{}}
	var targets []string
	var timeout *time.Duration
	for _, name := range services {
		svc, err := service(project, name)
		if err != nil {
			return UpResult{}, err
		}
		out, why, err := c.Outdated(ctx, project, name)
		if err != nil {
			return UpResult{}, err
		}
		if !out && !force {
			continue
		}
		if !out {
			why = "forced"
		}
		res.Reasons[name] = why
		targets = append(targets, name)
		if svc.StopGracePeriod != nil && (timeout == nil || time.Duration(*svc.StopGracePeriod) > *timeout) {
			d := time.Duration(*svc.StopGracePeriod)
			timeout = &d
		}
	}
	if len(targets) == 0 {
		return res, nil
	}
	res.Changed = true
	for _, name := range targets {
		n, err := c.removeLeftovers(ctx, project.Name, name)
		if err != nil {
			return UpResult{}, err
		}
		if n > 0 {
			res.Reasons[name] += fmt.Sprintf("; removed %d leftover container(s) of an interrupted recreate", n)
		}
	}
	narrowed, _, err := selectServices(project, targets, true)
	if err != nil {
		return UpResult{}, err
	}
	if err := c.CheckImages(ctx, narrowed); err != nil {
		return UpResult{}, err
	}
	res.Steps, err = c.runUp(ctx, narrowed, upOptions(narrowed, targets, timeout))
	if err != nil {
		return res, fmt.Errorf("recreating %s in project %s: %w", strings.Join(targets, ", "), project.Name, err)
	}
	return res, nil
}

// Down removes a project's containers and networks, and its volumes when
// removeVolumes (data is lost), like `docker compose -p NAME down [-v]`.
func (c *Client) Down(ctx context.Context, projectName string, removeVolumes bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events.begin(progressFrom(ctx))
	err := c.compose.Down(ctx, projectName, api.DownOptions{RemoveOrphans: true, Volumes: removeVolumes})
	c.events.end()
	if err != nil {
		return fmt.Errorf("compose down of project %s: %w", projectName, err)
	}
	return nil
}

// selectServices narrows project to services (all when empty), with their
// dependencies unless noDeps, and returns the narrowed project and the
// targeted service names. Pull policies are set to "never": zdplay never
// pulls (CheckImages reports a missing image first).
func selectServices(project *types.Project, services []string, noDeps bool) (*types.Project, []string, error) {
	for _, s := range services {
		if _, err := service(project, s); err != nil {
			return nil, nil, err
		}
	}
	var opts []types.DependencyOption
	if noDeps {
		opts = append(opts, types.IgnoreDependencies)
	}
	narrowed, err := project.WithSelectedServices(services, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("selecting services %v of project %s: %w", services, project.Name, err)
	}
	for name, s := range narrowed.Services {
		s.PullPolicy = types.PullPolicyNever
		narrowed.Services[name] = s
	}
	targets := services
	if len(targets) == 0 {
		targets = narrowed.ServiceNames()
	}
	return narrowed, targets, nil
}

// upOptions are the options of every Up zdplay makes: detached, the given
// services force-recreated, every other service left as it is when it
// exists, anonymous volumes inherited, orphans ignored (a narrowed project
// makes every other service look like one), never pulled nor built.
func upOptions(project *types.Project, recreate []string, timeout *time.Duration) api.UpOptions {
	return api.UpOptions{
		Create: api.CreateOptions{
			Services:             recreate,
			Recreate:             api.RecreateForce,
			RecreateDependencies: api.RecreateNever,
			Inherit:              true,
			IgnoreOrphans:        true,
			QuietPull:            true,
			Timeout:              timeout,
		},
		// Project must be set: without it Compose would start every stopped
		// container of the project, drained replicas included.
		Start: api.StartOptions{Project: project},
	}
}

// runUp calls Compose's Up, serialized, and returns the steps it reported.
func (c *Client) runUp(ctx context.Context, project *types.Project, opts api.UpOptions) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events.begin(progressFrom(ctx))
	err := c.compose.Up(ctx, project, opts)
	return c.events.end(), err
}

// removeLeftovers removes the stopped extra containers of services. Compose
// creates a replacement under a temporary name before it stops the old
// container: a run killed in between leaves two containers for the service,
// which Compose then cannot recreate over (name conflict). The service is
// being recreated, and drained, so whatever of it does not run can go.
func (c *Client) removeLeftovers(ctx context.Context, projectName, service string) (int, error) {
	items, err := c.listService(ctx, projectName, service)
	if err != nil || len(items) < 2 {
		return 0, err
	}
	removed := 0
	for _, it := range items {
		if it.State == container.StateRunning {
			continue
		}
		if _, err := c.api.ContainerRemove(ctx, it.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			return removed, fmt.Errorf("removing %s, left over by an interrupted recreate: %w", shortID(it.ID), err)
		}
		removed++
	}
	return removed, nil
}
