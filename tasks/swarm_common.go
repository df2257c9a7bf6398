package tasks

// Helpers shared by the Docker Swarm task kinds (swarm_*): one connection
// per docker_host for the run, and loading a stack from a compose file.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/swarmstack"
)

// swarmConns are the run's connections to Swarm managers, by docker_host.
type swarmConns struct {
	mu    sync.Mutex
	conns map[string]*client.Client
}

func (s *swarmConns) get(ctx context.Context, host string) (*client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[host]; ok {
		return c, nil
	}
	c, err := swarmstack.Connect(ctx, host)
	if err != nil {
		return nil, err
	}
	if s.conns == nil {
		s.conns = map[string]*client.Client{}
	}
	s.conns[host] = c
	return c, nil
}

func (s *swarmConns) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

// swarmClient is the run's connection to the manager at host ("": DOCKER_HOST,
// else the local engine), once the attributes named in required (name,
// value pairs, as composeRequire takes them) are set.
func swarmClient(ctx context.Context, env *Env, kind, host string, required ...string) (*client.Client, error) {
	if err := composeRequire(kind, required...); err != nil {
		return nil, err
	}
	if env == nil || env.Shared == nil {
		return nil, fmt.Errorf("%s: no shared run state (Env.Shared is nil): the runner must set it", kind)
	}
	c, err := env.Shared.swarm.get(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return c, nil
}

// loadStack loads a compose file as the stack named stack (compose-go, as
// the compose kinds load it; in --check, what an earlier task staged).
func loadStack(ctx context.Context, env *Env, kind, file, stack string) (*swarmstack.Stack, error) {
	if err := composeRequire(kind, "file", file, "stack", stack); err != nil {
		return nil, err
	}
	p, err := docker.LoadProjectContent(ctx, file, composeStaged(env, file), stack)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	st, err := swarmstack.Convert(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", kind, file, err)
	}
	return st, nil
}

// followed follows ch, a change just made to one service (swarm_update,
// swarm_rollback), until Swarm reports it completed, and says how long it
// took; a paused or rolled back update fails it. It changed either way.
func followed(ctx context.Context, env *Env, c *client.Client, kind string, ch swarmstack.Change) (Result, error) {
	res := Result{Changed: true, Msg: ch.What}
	out, err := swarmstack.Follow(ctx, c, ch, env.Progressf)
	if err != nil {
		return res, fmt.Errorf("%s: %w", kind, err)
	}
	res.Msg += fmt.Sprintf(" (completed in %s)", out.Elapsed.Round(time.Millisecond))
	return res, nil
}

// whats joins the changes' descriptions.
func whats(changes []swarmstack.Change) string {
	var w []string
	for _, c := range changes {
		w = append(w, c.What)
	}
	return strings.Join(w, "; ")
}
