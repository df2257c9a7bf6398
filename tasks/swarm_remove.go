package tasks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/swarmstack"
)

// SwarmRemove removes a stack from a Docker Swarm, as `docker stack rm`:
// its services, then its overlay networks and configs once no task uses
// them. Named volumes stay on the nodes that made them (as with docker
// stack rm). Changed is false when nothing of the stack is left; Check says
// what Apply would remove.
//
//	task "swarm_remove" "stack" {
//	  stack       = var.project
//	  docker_host = var.docker_host   # optional
//	}
type SwarmRemove struct {
	Stack      string `hcl:"stack"`
	DockerHost string `hcl:"docker_host,optional"`
}

var _ Task = (*SwarmRemove)(nil)
var _ DefaultTimeouter = (*SwarmRemove)(nil)

func init() { Register("swarm_remove", func() Task { return &SwarmRemove{} }) }

// DefaultTimeout bounds the wait for the tasks to stop.
func (t *SwarmRemove) DefaultTimeout() time.Duration { return 2 * time.Minute }

func (t *SwarmRemove) run(ctx context.Context, env *Env, check bool) (Result, error) {
	c, err := swarmClient(ctx, env, "swarm_remove", t.DockerHost, "stack", t.Stack)
	if err != nil {
		return Result{}, err
	}
	done, err := swarmstack.Remove(ctx, c, t.Stack, check)
	if err != nil {
		return Result{Changed: len(done) > 0}, fmt.Errorf("swarm_remove: stack %s: %w", t.Stack, err)
	}
	if len(done) == 0 {
		return Result{Msg: "stack " + t.Stack + " absent"}, nil
	}
	verb := "removed "
	if check {
		verb = "would remove "
	}
	return Result{Changed: true, Msg: verb + strings.Join(done, ", ")}, nil
}

// Check says what Apply would remove.
func (t *SwarmRemove) Check(ctx context.Context, env *Env) (Result, error) {
	return t.run(ctx, env, true)
}

// Apply removes the stack.
func (t *SwarmRemove) Apply(ctx context.Context, env *Env) (Result, error) {
	return t.run(ctx, env, false)
}
