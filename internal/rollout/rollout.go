// Package rollout decides a rolling update: which replicas to replace next,
// whether enough of the others serve to drain them, and whether a failure
// is tolerated. It knows nothing of Docker nor of the proxy: the runner's
// `rollout` block observes the replicas, asks Plan what to do, and runs the
// playbook's own steps (drain, replace, undrain, retire) for each decision.
//
// The vocabulary is Compose's deploy.update_config (Swarm's update config):
// parallelism, delay, order, monitor, failure_action, max_failure_ratio.
package rollout

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Order is update_config.order.
type Order string

// Action is update_config.failure_action.
type Action string

const (
	StopFirst  Order = "stop-first"
	StartFirst Order = "start-first"

	Rollback Action = "rollback"
	Pause    Action = "pause"
	Continue Action = "continue"
)

// Strategy is how a rollout goes: Compose's deploy.update_config.
type Strategy struct {
	Parallelism     int
	Order           Order
	Delay           time.Duration
	Monitor         time.Duration
	FailureAction   Action
	MaxFailureRatio float64
}

// Validate says, in the user's terms, what is wrong with a strategy.
func (s Strategy) Validate() error {
	var bad []string
	if s.Parallelism < 1 {
		bad = append(bad, fmt.Sprintf("parallelism is %d: it must be 1 or more", s.Parallelism))
	}
	if s.Order != StopFirst && s.Order != StartFirst {
		bad = append(bad, fmt.Sprintf("order is %q: it must be %q or %q", s.Order, StopFirst, StartFirst))
	}
	if s.FailureAction != Rollback && s.FailureAction != Pause && s.FailureAction != Continue {
		bad = append(bad, fmt.Sprintf("failure_action is %q: it must be %q, %q or %q", s.FailureAction, Rollback, Pause, Continue))
	}
	if !(s.MaxFailureRatio >= 0 && s.MaxFailureRatio <= 1) {
		bad = append(bad, fmt.Sprintf("max_failure_ratio is %g: it must be from 0 to 1", s.MaxFailureRatio))
	}
	if s.Delay < 0 {
		bad = append(bad, fmt.Sprintf("delay is %s: it must be 0 or more", s.Delay))
	}
	if s.Monitor < 0 {
		bad = append(bad, fmt.Sprintf("monitor is %s: it must be 0 or more", s.Monitor))
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid strategy: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Replica is what an observation tells of one replica service.
type Replica struct {
	Service string
	Exists  bool // it has a container
	Running bool
	// Current: its container matches the compose file (config hash, image).
	Current bool
	// Serving: running, healthy by Docker's check (if any) and answering
	// the health path: the proxy may send it requests.
	Serving bool
	// Unhealthy: running but failing its checks, so it is replaced rather
	// than waited for.
	Unhealthy bool
	// Address is its IP on the project's network ("" when not running).
	Address string
	// Orphan: the compose file no longer lists it (a scaled-down replica,
	// a surge): it serves until it is retired.
	Orphan bool
	Why    string
}

// Observation is every replica the engine knows of, by service.
type Observation map[string]Replica

// Server is one entry of the proxy's upstream.
type Server struct {
	Name    string
	Address string
	Down    bool
}

// Upstream is what the proxy should send to: every running replica with an
// address, sorted by name, marked down when it is in down or not serving.
// A replica that does not run is left out, so the proxy's conf never names
// an address nothing answers on nor a host that does not resolve.
func (o Observation) Upstream(down []string) []Server {
	var out []Server
	for _, r := range o {
		if !r.Running || r.Address == "" {
			continue
		}
		out = append(out, Server{Name: r.Service, Address: r.Address, Down: !r.Serving || slices.Contains(down, r.Service)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Serving counts the replicas (orphans and surge included) that serve and
// are not in except.
func (o Observation) Serving(except []string) int {
	n := 0
	for _, r := range o {
		if r.Serving && !slices.Contains(except, r.Service) {
			n++
		}
	}
	return n
}

// Orphans lists, sorted, the replicas the compose file no longer lists.
func (o Observation) Orphans() []string {
	var out []string
	for _, r := range o {
		if r.Orphan && r.Exists {
			out = append(out, r.Service)
		}
	}
	sort.Strings(out)
	return out
}

// Plan is one rollout's progress: what it has replaced and what failed.
type Plan struct {
	Strategy Strategy
	// Replicas are the services that must run the release, in order.
	Replicas []string
	done     map[string]bool
	failed   []string
}

// NewPlan starts a rollout of replicas.
func NewPlan(s Strategy, replicas []string) *Plan {
	return &Plan{Strategy: s, Replicas: replicas, done: map[string]bool{}}
}

// Batch is one decision: the replicas to replace next.
type Batch struct {
	Services []string
	// Heal: they do not serve (missing, stopped, restarting, unhealthy,
	// still booting), so they are replaced first, all at once, without
	// draining anything that serves and without counting against capacity.
	Heal bool
	// Force: they run but fail their checks, so they are recreated even
	// if their definition did not change (a replica still booting, left
	// by an interrupted run, is waited for instead).
	Force bool
}

// Next is the batch to replace, given what the replicas look like now;
// an empty batch when every replica is done or current. A replica is
// replaced at most once per plan, whatever a later observation says (in a
// --check run nothing changes, and a run must end).
func (p *Plan) Next(o Observation) Batch {
	var sick, heal, outdated []string
	for _, s := range p.Replicas {
		if p.done[s] {
			continue
		}
		r := o[s]
		switch {
		case r.Unhealthy:
			sick = append(sick, s)
		case !r.Serving:
			heal = append(heal, s)
		case !r.Current:
			outdated = append(outdated, s)
		}
	}
	if len(sick) > 0 {
		return Batch{Services: sick, Heal: true, Force: true}
	}
	if len(heal) > 0 {
		return Batch{Services: heal, Heal: true}
	}
	return Batch{Services: outdated[:min(len(outdated), p.Strategy.Parallelism)]}
}

// Pending reports whether any replica is still to be replaced.
func (p *Plan) Pending(o Observation) bool { return len(p.Next(o).Services) > 0 }

// CheckCapacity fails when draining b would leave fewer replicas serving
// than len(Replicas) - parallelism (Kubernetes' maxUnavailable: a replica
// that does not serve counts as unavailable). A heal batch drains nothing
// that serves.
func (p *Plan) CheckCapacity(o Observation, b Batch) error {
	if b.Heal {
		return nil
	}
	need := len(p.Replicas) - p.Strategy.Parallelism
	left := o.Serving(b.Services)
	if left < need {
		var down []string
		for _, s := range p.Replicas {
			if !o[s].Serving {
				down = append(down, s)
			}
		}
		return fmt.Errorf("draining %s would leave %d replica(s) serving, fewer than replicas - parallelism = %d (not serving: %s); nothing more was drained",
			strings.Join(b.Services, ", "), left, need, strings.Join(down, ", "))
	}
	return nil
}

// Done records that a batch was replaced (or tried).
func (p *Plan) Done(b Batch) {
	for _, s := range b.Services {
		p.done[s] = true
	}
}

// Fail counts a failed batch by its replicas and reports whether the
// failure is tolerated: within max_failure_ratio of the replicas, or
// failure_action is continue.
func (p *Plan) Fail(b Batch) bool {
	p.failed = append(p.failed, b.Services...)
	if p.Strategy.FailureAction == Continue {
		return true
	}
	return float64(len(p.failed)) <= p.Strategy.MaxFailureRatio*float64(len(p.Replicas))+1e-9
}

// Failed lists the replicas whose replacement failed, in order.
func (p *Plan) Failed() []string { return slices.Clone(p.failed) }

// Surge names the extra replicas a start-first rollout runs beside the
// others while it replaces them: as many as a batch.
func (p *Plan) Surge() []string {
	if p.Strategy.Order != StartFirst {
		return nil
	}
	n := min(p.Strategy.Parallelism, len(p.Replicas))
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("surge_%d", i+1)
	}
	return out
}

// Restore is the plan that brings every replica back to the fallback
// release after a failure past the ratio: one at a time, healing first.
func (p *Plan) Restore() *Plan {
	s := p.Strategy
	s.Parallelism = 1
	return NewPlan(s, p.Replicas)
}
