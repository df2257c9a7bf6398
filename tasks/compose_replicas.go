package tasks

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/rollout"
)

// ComposeReplicas looks at the replicas of a compose project and changes
// nothing: for each of `services`, and for every service that has
// containers but that the file no longer lists (a scaled-down replica, a
// start-first surge: orphans), whether it exists, runs, matches the file
// (config hash and image, as compose_outdated), and serves: running, healthy
// by Docker's check when there is one, and answering GET `path` on `port`
// with 200 within 500 ms (wait_healthy's probe). It is how the runner's rollout block learns
// where the replicas stand before each of its decisions (Result.Replicas),
// so a missing, stopped or unhealthy replica is healed first and capacity is
// checked before every drain. Its output `addresses` maps each running
// replica with an address on the project's network to that IP
// (NAME.outputs.addresses): the servers bluegreen.hcl gives HAProxy. Never
// changed; Check reads the same (a --check run judges the compose file the
// run would have written).
//
//	task "compose_replicas" "replicas" {
//	  file     = local.compose
//	  project  = var.project
//	  services = rollout.services
//	  path     = "/ping"   # optional, default /ping
//	  port     = 3000      # optional, default 3000
//	}
type ComposeReplicas struct {
	File     string   `hcl:"file"`
	Project  string   `hcl:"project"`
	Services []string `hcl:"services"`
	Path     string   `hcl:"path,optional"`
	Port     int      `hcl:"port,optional"`
}

var _ Task = (*ComposeReplicas)(nil)

func init() { Register("compose_replicas", func() Task { return &ComposeReplicas{} }) }

// Check is Apply: it only reads.
func (t *ComposeReplicas) Check(ctx context.Context, env *Env) (Result, error) {
	return t.Apply(ctx, env)
}

// Apply observes every replica at once.
func (t *ComposeReplicas) Apply(ctx context.Context, env *Env) (Result, error) {
	const kind = "compose_replicas"
	path, port := t.Path, t.Port
	if path == "" {
		path = "/ping"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if port == 0 {
		port = 3000
	}
	if port < 1 || port > 65535 {
		return Result{}, fmt.Errorf("%s: port = %d is not a TCP port (1-65535)", kind, port)
	}
	c, p, names, err := loadServices(ctx, env, kind, t.File, t.Project, "", t.Services)
	if err != nil {
		return Result{}, err
	}
	orphans, err := c.Orphans(ctx, p)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", kind, err)
	}
	hc := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 500 * time.Millisecond}).DialContext},
		Timeout:   500 * time.Millisecond,
	}
	obs := rollout.Observation{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 0)
	observe := func(name string, orphan bool) {
		defer wg.Done()
		r, err := observeReplica(ctx, c, hc, p.Name, name, path, port, orphan, func() (bool, string, error) { return c.Outdated(ctx, p, name) })
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		obs[name] = r
	}
	for _, name := range names {
		wg.Add(1)
		go observe(name, false)
	}
	for _, name := range orphans {
		if _, listed := p.Services[name]; !listed {
			wg.Add(1)
			go observe(name, true)
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return Result{}, fmt.Errorf("%s: %w", kind, errs[0])
	}
	addresses := map[string]any{}
	for name, r := range obs {
		if r.Running && r.Address != "" {
			addresses[name] = r.Address
		}
	}
	return Result{Msg: summarize(obs), Replicas: obs, Outputs: map[string]any{"addresses": addresses}}, nil
}

// observeReplica is one replica's state; current asks whether it matches
// the file (an orphan never does).
func observeReplica(ctx context.Context, c *docker.Client, hc *http.Client, project, name, path string, port int, orphan bool, current func() (bool, string, error)) (rollout.Replica, error) {
	r := rollout.Replica{Service: name, Orphan: orphan}
	ctr, err := c.ContainerOf(ctx, project, name)
	switch {
	case composeNoContainer(err):
		r.Why = "no container"
		return r, nil
	case err != nil:
		return r, err
	}
	r.Exists, r.Running, r.Address = true, ctr.Running, ctr.IP
	if !orphan {
		outdated, why, err := current()
		if err != nil {
			return r, err
		}
		r.Current, r.Why = !outdated, why
	} else {
		r.Why = "no longer in the compose file"
	}
	switch {
	case !ctr.Running:
		r.Why = fmt.Sprintf("container %s is %s", ctr.Name, ctr.State)
	case ctr.Health == "unhealthy":
		r.Unhealthy, r.Why = true, "docker health unhealthy: "+ctr.HealthOutput
	case ctr.Health == "starting":
		r.Why = "docker health starting"
	case ctr.IP == "":
		r.Why = "running without an address on the project's network"
	default:
		url := "http://" + net.JoinHostPort(ctr.IP, strconv.Itoa(port)) + path
		// The health gate's own probe: what wait_healthy waits for is
		// what counts as serving.
		if err := waitProbe(ctx, hc, url); err != nil {
			r.Why = err.Error()
		} else {
			r.Serving = true
		}
	}
	return r, nil
}

// summarize is the recap line: "app_1 serving; app_2 outdated (image a:1 -> a:2); app_3 not serving (no container)".
func summarize(o rollout.Observation) string {
	names := make([]string, 0, len(o))
	for n := range o {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		r := o[n]
		switch {
		case r.Orphan:
			parts = append(parts, n+" to retire ("+map[bool]string{true: "serving", false: "not serving"}[r.Serving]+")")
		case !r.Serving:
			parts = append(parts, n+" not serving ("+r.Why+")")
		case !r.Current:
			parts = append(parts, n+" outdated ("+r.Why+")")
		default:
			parts = append(parts, n+" serving")
		}
	}
	return strings.Join(parts, "; ")
}
