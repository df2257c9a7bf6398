package tasks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
)

// WaitHealthy waits, changing nothing, until a service's container is ready
// for traffic: it runs, its Docker health status is "healthy" (when the
// image or the compose file defines a healthcheck), and
// GET http://CONTAINER_IP:port/path answered 200 `successes` times in a row,
// polled every `interval` (once is enough for a container Docker already
// reports healthy when the wait starts: a converged run). The GETs count
// while Docker's first check is still pending ("starting"), so that the two
// conditions are waited for at once; "unhealthy" starts the count again.
// It fails when `timeout` passes first, saying the
// last health probe output and the last HTTP error, and fails at once when
// the container exits or, under a restart policy, crashes and is restarted
// (with its exit code and last log lines). Never changed; Check does not
// wait.
//
// `timeout` is the runner's task timeout (the runner keeps that attribute
// for every kind): the wait lasts until the task's deadline; 60s when the
// task has none.
//
//	task "wait_healthy" "app_1 healthy" {
//	  file      = "../compose.yaml"
//	  project   = var.project
//	  service   = "app_1"
//	  timeout   = "60s"    # the runner's task timeout: how long to wait
//	  interval  = "100ms"  # optional, default 100ms
//	  path      = "/ping"  # optional, default /ping
//	  port      = 3000     # optional, default 3000
//	  successes = 3        # optional, default 3
//	  monitor   = "5s"     # optional: keep watching this long once ready
//	}
//
// With monitor, a replica that turns unhealthy, stops answering /ping or
// crashes within that period after it became ready still fails the task,
// as Swarm's update monitor does: a release that dies a few seconds after
// its first good health check is caught before it takes traffic.
type WaitHealthy struct {
	File      string `hcl:"file"`
	Project   string `hcl:"project"`
	Service   string `hcl:"service"`
	Interval  string `hcl:"interval,optional"`
	Path      string `hcl:"path,optional"`
	Port      int    `hcl:"port,optional"`
	Successes int    `hcl:"successes,optional"`
	Monitor   string `hcl:"monitor,optional"`
}

var _ Task = (*WaitHealthy)(nil)
var _ Validator = (*WaitHealthy)(nil)
var _ DefaultTimeouter = (*WaitHealthy)(nil)

func init() { Register("wait_healthy", func() Task { return &WaitHealthy{} }) }

// DefaultTimeout is how long to wait when the task sets no timeout.
func (t *WaitHealthy) DefaultTimeout() time.Duration { return 60 * time.Second }

// waitSpec is WaitHealthy with its defaults applied.
type waitSpec struct {
	timeout, interval time.Duration
	monitor           time.Duration
	path              string
	port, successes   int
}

func (t *WaitHealthy) spec() (waitSpec, error) {
	const kind = "wait_healthy"
	if err := composeRequire(kind, "service", t.Service); err != nil {
		return waitSpec{}, err
	}
	s := waitSpec{path: t.Path, port: t.Port, successes: t.Successes}
	var err error
	if s.interval, err = composeDuration(kind, "interval", t.Interval, 100*time.Millisecond); err != nil {
		return s, err
	}
	// monitor may be zero in any spelling ("0", "0s", "0ms"): no watch.
	if d, perr := time.ParseDuration(t.Monitor); t.Monitor == "0" || (perr == nil && d == 0) {
		s.monitor = 0
	} else if s.monitor, err = composeDuration(kind, "monitor", t.Monitor, 0); err != nil {
		return s, err
	}
	if s.path == "" {
		s.path = "/ping"
	}
	if !strings.HasPrefix(s.path, "/") {
		s.path = "/" + s.path
	}
	if s.port == 0 {
		s.port = 3000
	}
	if s.port < 0 || s.port > 65535 {
		return s, fmt.Errorf("%s: port = %d is not a TCP port (1-65535)", kind, s.port)
	}
	if s.successes == 0 {
		s.successes = 3
	}
	if s.successes < 0 {
		return s, fmt.Errorf("%s: successes = %d must be at least 1", kind, s.successes)
	}
	return s, nil
}

// Validate checks the attributes before the run starts.
func (t *WaitHealthy) Validate(*Env) error {
	_, err := t.spec()
	return err
}

// Check says what Apply would wait for.
func (t *WaitHealthy) Check(ctx context.Context, env *Env) (Result, error) {
	s, err := t.spec()
	if err != nil {
		return Result{}, err
	}
	if _, _, err := loadService(ctx, env, "wait_healthy", t.File, t.Project, t.Service); err != nil {
		return Result{}, err
	}
	return Result{Msg: fmt.Sprintf("would wait for %s (healthy, GET :%d%s answered 200 %d times in a row, up to %s)",
		t.Service, s.port, s.path, s.successes, composeBound(ctx, t.DefaultTimeout()).Round(time.Second))}, nil
}

// Apply waits.
func (t *WaitHealthy) Apply(ctx context.Context, env *Env) (Result, error) {
	s, err := t.spec()
	if err != nil {
		return Result{}, err
	}
	c, p, err := loadService(ctx, env, "wait_healthy", t.File, t.Project, t.Service)
	if err != nil {
		return Result{}, err
	}
	took, err := waitReady(ctx, env, c, p.Name, t.Service, s)
	if err != nil {
		return Result{}, err
	}
	msg := fmt.Sprintf("%s healthy after %s", t.Service, took.Round(time.Millisecond))
	if s.monitor > 0 {
		if err := monitorReady(ctx, env, c, p.Name, t.Service, s); err != nil {
			return Result{Msg: msg}, err
		}
		msg += fmt.Sprintf(", and for %s after", s.monitor)
	}
	return Result{Msg: msg}, nil
}

// monitorReady keeps checking a ready service for s.monitor: every interval
// its container must still run, not be restarted, not be Docker-unhealthy,
// and answer GET path with 200.
func monitorReady(ctx context.Context, env *Env, c *docker.Client, project, service string, s waitSpec) error {
	hc := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext},
		Timeout:   max(2*time.Second, s.interval),
	}
	first, err := c.ContainerOf(ctx, project, service)
	if err != nil {
		return fmt.Errorf("wait_healthy: monitoring %s: %w", service, err)
	}
	start := time.Now()
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for time.Since(start) < s.monitor {
		env.Progressf("monitoring %s: %s of %s", service, time.Since(start).Round(100*time.Millisecond), s.monitor)
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait_healthy: monitoring %s: %w", service, ctx.Err())
		case <-tick.C:
		}
		ctr, err := c.ContainerOf(ctx, project, service)
		var problem string
		switch {
		case err != nil:
			problem = err.Error()
		case ctr.ID != first.ID || ctr.Restarts > first.Restarts || !ctr.Running:
			problem = fmt.Sprintf("its container %s is %s (exit code %d, %d restarts)", ctr.Name, ctr.State, ctr.ExitCode, ctr.Restarts)
		case ctr.Health == "unhealthy":
			problem = "docker health unhealthy: " + ctr.HealthOutput
		default:
			url := "http://" + net.JoinHostPort(ctr.IP, strconv.Itoa(s.port)) + s.path
			if err := waitProbe(ctx, hc, url); err != nil && ctx.Err() == nil {
				problem = err.Error()
			}
		}
		if problem != "" {
			return fmt.Errorf("wait_healthy: %s was healthy, then failed %s into its %s monitor period: %s",
				service, time.Since(start).Round(100*time.Millisecond), s.monitor, problem)
		}
	}
	return nil
}

// waitReady polls until the service is ready, the deadline passes or its
// container exits.
func waitReady(ctx context.Context, env *Env, c *docker.Client, project, service string, s waitSpec) (time.Duration, error) {
	start := time.Now()
	budget := env.Timeout // what the error reports: the task's timeout
	if dl, ok := ctx.Deadline(); ok && budget == 0 {
		budget = time.Until(dl)
	} else if budget == 0 {
		budget = (*WaitHealthy)(nil).DefaultTimeout()
	}
	s.timeout = composeBound(ctx, budget)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	hc := &http.Client{
		// New connections each time: the probe measures what a fresh client
		// (nginx) sees, and leaves nothing open on a container being replaced.
		Transport:     &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext},
		Timeout:       max(2*time.Second, s.interval),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var (
		streak   int
		lastHTTP = "no HTTP probe yet"
		lastDock = "no container yet"
		ctr      docker.Container
		name     = service // the container's name once known
		// the container and its restart count when first seen: a restart
		// since means it crashed
		seenID string
		// A container Docker already reports healthy when first seen has
		// passed its own probes for a while: one GET more is enough. This
		// keeps the health gate of a converged run to one poll.
		need         = s.successes
		seenRestarts int
		tick         = time.NewTicker(s.interval)
	)
	defer tick.Stop()
	for {
		env.Progressf("waiting for %s: %s", service, time.Since(start).Round(100*time.Millisecond))
		var err error
		ctr, err = c.ContainerOf(ctx, project, service)
		if err == nil {
			name = ctr.Name
			if ctr.ID != seenID {
				if seenID == "" && ctr.Running && ctr.Health == "healthy" {
					need = 1
				} else {
					need = s.successes
				}
				seenID, seenRestarts = ctr.ID, ctr.Restarts
			}
		}
		switch {
		case err != nil && ctx.Err() != nil:
			// the deadline, reported below
		case composeNoContainer(err):
			streak, lastDock = 0, "no container for "+service
		case err != nil:
			return time.Since(start), fmt.Errorf("wait_healthy: %w", err)
		case ctr.State == "exited" || ctr.State == "dead" || ctr.Restarts > seenRestarts:
			logs, _ := c.LogTail(ctx, ctr.ID, 5)
			msg := fmt.Sprintf("wait_healthy: %s's container %s exited with code %d", service, ctr.Name, ctr.ExitCode)
			if ctr.Restarts > seenRestarts {
				msg += fmt.Sprintf(" and was restarted by its restart policy (%d restarts)", ctr.Restarts)
			}
			if ctr.Error != "" {
				msg += " (" + ctr.Error + ")"
			}
			if logs != "" {
				msg += "; its last log lines:\n" + waitIndent(logs)
			}
			return time.Since(start), errors.New(msg + "\n  fix the image or its configuration (docker logs " + ctr.Name + "), then run again")
		case !ctr.Running:
			streak, lastDock = 0, fmt.Sprintf("container %s is %s", ctr.Name, ctr.State)
			if ctr.Restarts > 0 {
				lastDock += fmt.Sprintf(" (restarted %d times, last exit code %d)", ctr.Restarts, ctr.ExitCode)
			}
		case ctr.IP == "":
			streak, lastDock = 0, "container "+ctr.Name+" has no IP address on the project network"
		default:
			// Probe even while Docker says not healthy: the HTTP error tells
			// why, should the wait time out.
			url := "http://" + net.JoinHostPort(ctr.IP, strconv.Itoa(s.port)) + s.path
			httpErr := waitProbe(ctx, hc, url)
			if httpErr != nil {
				if ctx.Err() == nil || lastHTTP == "no HTTP probe yet" {
					// (a probe cut by the deadline says less than the one before)
					lastHTTP = httpErr.Error()
				}
			} else {
				lastHTTP = "GET " + url + ": 200"
			}
			if httpErr != nil || ctr.Health == "unhealthy" {
				streak = 0
			} else {
				streak++
			}
			if ctr.Health != "" && ctr.Health != "healthy" {
				lastDock = "docker health " + ctr.Health
				if ctr.HealthOutput != "" {
					lastDock += ": " + ctr.HealthOutput
				}
			} else if streak >= need {
				return time.Since(start), nil
			}
			if ctr.Health == "" {
				lastDock = "running (no Docker healthcheck)"
			} else if ctr.Health == "healthy" {
				lastDock = "docker health healthy"
			}
		}
		select {
		case <-ctx.Done():
			if parent := context.Cause(ctx); !errors.Is(parent, context.DeadlineExceeded) {
				return time.Since(start), fmt.Errorf("wait_healthy: waiting for %s: %w", service, parent)
			}
			return time.Since(start), fmt.Errorf("wait_healthy: %s not healthy after %s: %s; last HTTP probe: %s\n"+
				"  see `docker logs %s`; if it is only slow to start, raise timeout",
				service, budget.Round(100*time.Millisecond), lastDock, lastHTTP, name)
		case <-tick.C:
		}
	}
}

// waitProbe GETs url and wants a 200.
func waitProbe(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err // `Get "url": dial tcp ...: connection refused`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %q", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func waitIndent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
