package docker

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

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
