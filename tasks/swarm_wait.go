package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/swarmstack"
)

// SwarmWait waits until every task of a Swarm service that should run does,
// at the wanted image (default: the service's), as many as its replicas,
// and no task told to stop still runs (so only the wanted image answers):
// Swarm reports a task whose container has a health check as running only
// once that check passed, so a running task is a healthy one. It changes
// nothing (Changed is always false); it fails at its timeout listing the
// tasks not ready, each with its node and state.
//
//	task "swarm_wait" "app" {
//	  service     = "${var.project}_app"
//	  image       = "zdplay-demo/app:${var.version}"   # optional
//	  docker_host = var.docker_host                    # optional
//	  timeout     = "2m"
//	}
type SwarmWait struct {
	Service    string `hcl:"service"`
	Image      string `hcl:"image,optional"`
	DockerHost string `hcl:"docker_host,optional"`
}

var _ Task = (*SwarmWait)(nil)
var _ DefaultTimeouter = (*SwarmWait)(nil)

func init() { Register("swarm_wait", func() Task { return &SwarmWait{} }) }

// DefaultTimeout bounds the wait.
func (t *SwarmWait) DefaultTimeout() time.Duration { return 2 * time.Minute }

// Check reports the tasks as they are, without waiting.
func (t *SwarmWait) Check(ctx context.Context, env *Env) (Result, error) {
	c, err := swarmClient(ctx, env, "swarm_wait", t.DockerHost, "service", t.Service)
	if err != nil {
		return Result{}, err
	}
	st, err := swarmstack.Tasks(ctx, c, t.Service, t.Image)
	if err != nil {
		return Result{}, fmt.Errorf("swarm_wait: service %s: %w", t.Service, err)
	}
	return Result{Msg: fmt.Sprintf("%s: %d of %d tasks ready", t.Service, st.Ready, st.Wanted)}, nil
}

// Apply waits until every task is ready.
func (t *SwarmWait) Apply(ctx context.Context, env *Env) (Result, error) {
	c, err := swarmClient(ctx, env, "swarm_wait", t.DockerHost, "service", t.Service)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	for {
		st, err := swarmstack.Tasks(ctx, c, t.Service, t.Image)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return Result{}, fmt.Errorf("swarm_wait: service %s: %w", t.Service, err)
		}
		if err == nil && st.Ready >= st.Wanted && len(st.Pending) == 0 {
			return Result{Msg: fmt.Sprintf("%s: %d tasks ready after %s", t.Service, st.Ready, time.Since(start).Round(time.Millisecond))}, nil
		}
		if err == nil {
			env.Progressf("%s: %d of %d tasks ready", t.Service, st.Ready, st.Wanted)
		}
		select {
		case <-ctx.Done():
			failed, _ := swarmstack.FailedTasks(context.Background(), c, t.Service, t.Image)
			return Result{}, fmt.Errorf("swarm_wait: service %s: %d of %d tasks ready after %s; not ready:\n  %s%s",
				t.Service, st.Ready, st.Wanted, time.Since(start).Round(time.Millisecond), strings.Join(st.Pending, "\n  "), failed)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
