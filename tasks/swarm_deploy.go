package tasks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/swarmstack"
)

// SwarmDeploy deploys a stack to a Docker Swarm from a compose file, as
// `docker stack deploy -c FILE STACK` does, over the Engine API: the file is
// loaded with compose-go, its overlay networks and configs are created when
// missing (a config's name carries a hash of its content, so a changed file
// is a new config and the services using it roll to it), and each service
// is created or, when its spec changed (its image or anything else the file
// says: deploy replicas, update_config, rollback_config, placement
// constraints, endpoint_mode, ports in host mode, volumes, healthcheck...),
// updated. Everything is labelled com.docker.stack.namespace=STACK; named
// volumes are created by each node on first use, labelled the same.
//
// With wait (the default), an update that changes a service's tasks is
// followed until Swarm reports it completed (by the service's own
// update_config), and the task fails when the update paused or rolled back,
// naming the failed tasks and their nodes.
//
// Changed is true only when something was created or a spec was sent; a
// spec that did not change is not sent again, so a converged run reports
// changed=false. Check reports what Apply would do.
//
//	task "swarm_deploy" "stack" {
//	  file        = "${local.dir}/stack.yml"
//	  stack       = var.project
//	  docker_host = var.docker_host   # optional: unix://, tcp://, ssh://; default DOCKER_HOST
//	  wait        = true              # optional
//	}
type SwarmDeploy struct {
	File       string `hcl:"file"`
	Stack      string `hcl:"stack"`
	DockerHost string `hcl:"docker_host,optional"`
	Wait       *bool  `hcl:"wait,optional"`
}

var _ Task = (*SwarmDeploy)(nil)
var _ DefaultTimeouter = (*SwarmDeploy)(nil)

func init() { Register("swarm_deploy", func() Task { return &SwarmDeploy{} }) }

// DefaultTimeout bounds a deploy that follows rolling updates.
func (t *SwarmDeploy) DefaultTimeout() time.Duration { return 10 * time.Minute }

func (t *SwarmDeploy) run(ctx context.Context, env *Env, check bool) (Result, error) {
	st, err := loadStack(ctx, env, "swarm_deploy", t.File, t.Stack)
	if err != nil {
		return Result{}, err
	}
	c, err := swarmClient(ctx, env, "swarm_deploy", t.DockerHost)
	if err != nil {
		return Result{}, err
	}
	changes, err := swarmstack.Deploy(ctx, c, st, check)
	if err != nil {
		return Result{Changed: len(changes) > 0, Msg: whats(changes)}, fmt.Errorf("swarm_deploy: stack %s: %w", t.Stack, err)
	}
	if len(changes) == 0 {
		return Result{Msg: "stack " + t.Stack + " up to date"}, nil
	}
	res := Result{Changed: true, Msg: whats(changes), Diff: whatLines(changes)}
	if check {
		res.Msg = "would have " + res.Msg
		return res, nil
	}
	if t.Wait != nil && !*t.Wait {
		return res, nil
	}
	var msgs []string
	for _, ch := range changes {
		if !ch.Rolling {
			continue
		}
		out, err := swarmstack.Follow(ctx, c, ch, env.Progressf)
		if err != nil {
			return res, fmt.Errorf("swarm_deploy: %w", err)
		}
		msgs = append(msgs, fmt.Sprintf("%s updated in %s", ch.Service, out.Elapsed.Round(time.Millisecond)))
	}
	if len(msgs) > 0 {
		res.Msg += " (" + strings.Join(msgs, ", ") + ")"
	}
	return res, nil
}

func whatLines(changes []swarmstack.Change) string {
	var b strings.Builder
	for _, c := range changes {
		b.WriteString(c.What + "\n")
	}
	return b.String()
}

// Check reports what Apply would create or update.
func (t *SwarmDeploy) Check(ctx context.Context, env *Env) (Result, error) {
	return t.run(ctx, env, true)
}

// Apply deploys the stack.
func (t *SwarmDeploy) Apply(ctx context.Context, env *Env) (Result, error) {
	return t.run(ctx, env, false)
}
