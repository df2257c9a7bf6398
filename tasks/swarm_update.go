package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/zdplay/zdplay/internal/swarmstack"
)

// SwarmUpdate updates a Swarm service's image, as `docker service update
// --image`, and follows the rolling update until Swarm reports it
// completed, paused or rolled back: Swarm replaces the tasks by the
// service's update_config, or by the one the task sets (parallelism,
// delay, order, failure_action, monitor, max_failure_ratio; an attribute
// left out takes Swarm's default). A write that loses a race with another
// ("update out of sequence") is retried on the re-read service. A paused or
// rolled back update fails the task, naming the failed tasks and their
// nodes.
//
// Changed is false when the service already runs the image (with the given
// update_config); Check says what Apply would do.
//
//	task "swarm_update" "app" {
//	  service        = "${var.project}_app"
//	  image          = "zdplay-demo/app:${var.version}"
//	  docker_host    = var.docker_host    # optional
//	  parallelism    = 1                  # optional, and the five below
//	  delay          = "0s"
//	  order          = "start-first"
//	  failure_action = "rollback"
//	  monitor        = "5s"
//	  max_failure_ratio = 0
//	}
type SwarmUpdate struct {
	Service         string   `hcl:"service"`
	Image           string   `hcl:"image"`
	DockerHost      string   `hcl:"docker_host,optional"`
	Parallelism     *int     `hcl:"parallelism,optional"`
	Delay           *string  `hcl:"delay,optional"`
	Order           *string  `hcl:"order,optional"`
	FailureAction   *string  `hcl:"failure_action,optional"`
	Monitor         *string  `hcl:"monitor,optional"`
	MaxFailureRatio *float64 `hcl:"max_failure_ratio,optional"`
}

var _ Task = (*SwarmUpdate)(nil)
var _ DefaultTimeouter = (*SwarmUpdate)(nil)

func init() { Register("swarm_update", func() Task { return &SwarmUpdate{} }) }

// DefaultTimeout bounds the followed update.
func (t *SwarmUpdate) DefaultTimeout() time.Duration { return 10 * time.Minute }

// updateConfig is the task's update_config, nil when it sets none.
func (t *SwarmUpdate) updateConfig() (*swarm.UpdateConfig, error) {
	if t.Parallelism == nil && t.Delay == nil && t.Order == nil && t.FailureAction == nil && t.Monitor == nil && t.MaxFailureRatio == nil {
		return nil, nil
	}
	uc := &swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionPause, Order: swarm.UpdateOrderStopFirst}
	if t.Parallelism != nil {
		if *t.Parallelism < 0 {
			return nil, fmt.Errorf("swarm_update: parallelism %d: 0 (all at once) or more", *t.Parallelism)
		}
		uc.Parallelism = uint64(*t.Parallelism)
	}
	for _, d := range []struct {
		name string
		s    *string
		dst  *time.Duration
	}{{"delay", t.Delay, &uc.Delay}, {"monitor", t.Monitor, &uc.Monitor}} {
		if d.s == nil {
			continue
		}
		v, err := time.ParseDuration(*d.s)
		if err != nil {
			return nil, fmt.Errorf("swarm_update: %s %q: a duration such as 5s", d.name, *d.s)
		}
		*d.dst = v
	}
	if t.Order != nil {
		if *t.Order != "stop-first" && *t.Order != "start-first" {
			return nil, fmt.Errorf("swarm_update: order %q: stop-first or start-first", *t.Order)
		}
		uc.Order = swarm.UpdateOrder(*t.Order)
	}
	if t.FailureAction != nil {
		switch *t.FailureAction {
		case "pause", "continue", "rollback":
		default:
			return nil, fmt.Errorf("swarm_update: failure_action %q: pause, continue or rollback", *t.FailureAction)
		}
		uc.FailureAction = swarm.FailureAction(*t.FailureAction)
	}
	if t.MaxFailureRatio != nil {
		uc.MaxFailureRatio = float32(*t.MaxFailureRatio)
	}
	return uc, nil
}

func (t *SwarmUpdate) run(ctx context.Context, env *Env, check bool) (Result, error) {
	uc, err := t.updateConfig()
	if err != nil {
		return Result{}, err
	}
	c, err := swarmClient(ctx, env, "swarm_update", t.DockerHost, "service", t.Service, "image", t.Image)
	if err != nil {
		return Result{}, err
	}
	ch, changed, err := swarmstack.UpdateImage(ctx, c, t.Service, t.Image, uc, check)
	if err != nil {
		return Result{Changed: changed}, fmt.Errorf("swarm_update: service %s: %w", t.Service, err)
	}
	if !changed {
		return Result{Msg: ch.What}, nil
	}
	if check {
		return Result{Changed: true, Msg: "would have " + ch.What}, nil
	}
	if !ch.Rolling {
		return Result{Changed: true, Msg: ch.What}, nil
	}
	return followed(ctx, env, c, "swarm_update", ch)
}

// Check says whether Apply would update the image.
func (t *SwarmUpdate) Check(ctx context.Context, env *Env) (Result, error) {
	return t.run(ctx, env, true)
}

// Apply updates the image and follows the update.
func (t *SwarmUpdate) Apply(ctx context.Context, env *Env) (Result, error) {
	return t.run(ctx, env, false)
}
