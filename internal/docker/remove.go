package docker

import (
	"context"
	"fmt"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
)

// Orphans lists, sorted, the services of a project that have containers but
// that the compose file no longer lists: what `docker compose up
// --remove-orphans` would remove (a start-first surge replica after the
// rollout, a replica beyond a lowered replica count).
func (c *Client) Orphans(ctx context.Context, project *types.Project) ([]string, error) {
	res, err := c.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", api.ProjectLabel+"="+project.Name).
		Add("label", api.OneoffLabel+"=False")})
	if err != nil {
		return nil, fmt.Errorf("listing containers of project %s: %w", project.Name, err)
	}
	var orphans []string
	for _, it := range res.Items {
		s := it.Labels[api.ServiceLabel]
		if _, listed := project.Services[s]; !listed && !slices.Contains(orphans, s) {
			orphans = append(orphans, s)
		}
	}
	slices.Sort(orphans)
	return orphans, nil
}

// RemoveServices stops (SIGTERM, then SIGKILL after grace seconds) and
// removes every container of the given services of a project, found by
// Compose's labels, so the compose file need not list them any more (a
// start-first surge replica, a retired colour). Their anonymous volumes go
// with them; named volumes stay. It returns the names of the removed
// containers.
func (c *Client) RemoveServices(ctx context.Context, projectName string, services []string, grace int) ([]string, error) {
	var removed []string
	for _, s := range services {
		items, err := c.listService(ctx, projectName, s)
		if err != nil {
			return removed, err
		}
		for _, it := range items {
			name := shortID(it.ID)
			if len(it.Names) > 0 {
				name = it.Names[0][1:]
			}
			if _, err := c.api.ContainerStop(ctx, it.ID, client.ContainerStopOptions{Timeout: &grace}); err != nil {
				return removed, fmt.Errorf("stopping %s: %w", name, err)
			}
			if _, err := c.api.ContainerRemove(ctx, it.ID, client.ContainerRemoveOptions{RemoveVolumes: true}); err != nil {
				return removed, fmt.Errorf("removing %s: %w", name, err)
			}
			removed = append(removed, name)
		}
	}
	return removed, nil
}
