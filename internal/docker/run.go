package docker

import (
	"context"
	"fmt"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// RunOnce runs a service of project to completion (a migration): its
// container is created afresh from the file (the service's image,
// environment, networks and volumes; its dependencies must be up), waited
// for until it exits, and removed. It returns the exit code and the last
// lines it wrote.
func (c *Client) RunOnce(ctx context.Context, project *types.Project, service string, grace int) (int, string, error) {
	if _, err := c.Recreate(ctx, project, []string{service}, true); err != nil {
		return -1, "", err
	}
	defer func() {
		// Removed even when ctx is done: a one-off container must not stay.
		_, _ = c.RemoveServices(context.WithoutCancel(ctx), project.Name, []string{service}, grace)
	}()
	ctr, err := c.ContainerOf(ctx, project.Name, service)
	if err != nil {
		return -1, "", err
	}
	w := c.api.ContainerWait(ctx, ctr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var code int
	select {
	case res := <-w.Result:
		if res.Error != nil {
			return -1, "", fmt.Errorf("waiting for %s: %s", ctr.Name, res.Error.Message)
		}
		code = int(res.StatusCode)
	case err := <-w.Error:
		return -1, "", fmt.Errorf("waiting for %s: %w", ctr.Name, err)
	}
	logs, _ := c.LogTail(ctx, ctr.ID, 20)
	return code, logs, nil
}
