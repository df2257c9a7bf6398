package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/client"

	"github.com/zdplay/zdplay/internal/swarmstack"
)

// SwarmRollback rolls a Swarm service back to its previous spec, as `docker
// service rollback`, by the service's rollback_config, and follows the
// rollback until Swarm reports it completed (a paused rollback fails the
// task, naming the failed tasks and their nodes). Every call changes
// something: it is meant for a tag a human asks for (-t rollback), after an
// upgrade that turned healthy but is wrong. Check says what it would do.
//
//	task "swarm_rollback" "app" {
//	  service     = "${var.project}_app"
//	  docker_host = var.docker_host   # optional
//	}
type SwarmRollback struct {
	Service    string `hcl:"service"`
	DockerHost string `hcl:"docker_host,optional"`
}

var _ Task = (*SwarmRollback)(nil)
var _ DefaultTimeouter = (*SwarmRollback)(nil)

func init() { Register("swarm_rollback", func() Task { return &SwarmRollback{} }) }

// DefaultTimeout bounds the followed rollback.
func (t *SwarmRollback) DefaultTimeout() time.Duration { return 10 * time.Minute }

// Check says what the rollback would return to.
func (t *SwarmRollback) Check(ctx context.Context, env *Env) (Result, error) {
	c, err := swarmClient(ctx, env, "swarm_rollback", t.DockerHost, "service", t.Service)
	if err != nil {
		return Result{}, err
	}
	svc, err := c.ServiceInspect(ctx, t.Service, client.ServiceInspectOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("swarm_rollback: service %s: %w", t.Service, err)
	}
	if svc.Service.PreviousSpec == nil {
		return Result{}, fmt.Errorf("swarm_rollback: service %s has no previous spec to roll back to", t.Service)
	}
	return Result{Changed: true, Msg: "would roll " + t.Service + " back to " + svc.Service.PreviousSpec.TaskTemplate.ContainerSpec.Image}, nil
}

// Apply rolls back and follows the rollback.
func (t *SwarmRollback) Apply(ctx context.Context, env *Env) (Result, error) {
	c, err := swarmClient(ctx, env, "swarm_rollback", t.DockerHost, "service", t.Service)
	if err != nil {
		return Result{}, err
	}
	ch, err := swarmstack.Rollback(ctx, c, t.Service)
	if err != nil {
		return Result{}, fmt.Errorf("swarm_rollback: service %s: %w", t.Service, err)
	}
	return followed(ctx, env, c, "swarm_rollback", ch)
}
