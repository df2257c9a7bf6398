package proxy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/atomicfile"
	"github.com/zdplay/zdplay/internal/docker"
)

// Nginx drives an nginx whose conf (Conf, on the host, in the directory
// bind-mounted as its conf.d) names the replicas by address. Every change
// of the upstream is a new conf: rendered, tested (`nginx -t`: a rejected
// conf is replaced by the last good one, conf.good, and nginx keeps
// serving), reloaded, and for a drain waited for until every older worker
// process has exited, so no connection still points at a drained replica.
// Each reload closes the old workers' idle client keep-alive connections: a
// GET client retries, a POST client may fail (HAProxy closes none).
type Nginx struct {
	Common
	Conf string // host path of the conf, e.g. DIR/nginx/default.conf
	// Timeout bounds the wait for old workers; Poll is how often the
	// process list is read (50 ms when 0).
	Timeout, Poll time.Duration
	// Force reloads even when the conf equals its last good copy.
	Force bool
}

var _ Proxy = (*Nginx)(nil)

// Setup makes the conf's directory, which the proxy mounts: the conf
// itself is rendered by the first drain, once the replicas are known.
func (n *Nginx) Setup(context.Context) (Step, error) {
	dir := filepath.Dir(n.Conf)
	if isDir(dir) {
		return Step{Msg: dir + " exists"}, nil
	}
	if n.Stage != nil {
		return Step{Changed: true, Msg: "would create " + dir}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Step{}, fmt.Errorf("nginx: %w", err)
	}
	return Step{Changed: true, Msg: "created " + dir}, nil
}

// Render writes the conf for upstream when its bytes differ.
func (n *Nginx) Render(upstream []Server) (Step, error) {
	return render(&n.Common, n.Conf, upstream)
}

func render(c *Common, path string, upstream []Server) (Step, error) {
	data, err := c.Template(upstream)
	if err != nil {
		return Step{}, err
	}
	old, err := c.read(path)
	if err == nil && string(old) == string(data) {
		return Step{}, nil
	}
	if err != nil && !os.IsNotExist(err) {
		return Step{}, err
	}
	if c.Stage != nil {
		c.Stage(path, data)
		return Step{Changed: true, Msg: "would render " + filepath.Base(path)}, nil
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return Step{}, err
	}
	return Step{Changed: true, Msg: "rendered " + filepath.Base(path)}, nil
}

func (n *Nginx) container(ctx context.Context) (Container, error) {
	ctr, err := n.Container(ctx)
	if err != nil {
		return nil, err
	}
	if ctr == nil {
		return nil, fmt.Errorf("nginx: the proxy's container is not running: bring it up first (compose_up)")
	}
	return ctr, nil
}

// Validate runs `nginx -t` in the proxy; on a rejection it restores the
// last good conf.
func (n *Nginx) Validate(ctx context.Context) error {
	ctr, err := n.container(ctx)
	if err != nil {
		return err
	}
	return n.validate(ctx, ctr)
}

func (n *Nginx) validate(ctx context.Context, ctr Container) error {
	rc, stdout, stderr, err := ctr.Exec(ctx, "nginx", "-t")
	if err != nil {
		return fmt.Errorf("nginx -t in the proxy: %w", err)
	}
	if rc != 0 {
		return restoreGood("nginx", n.Conf, stderr+"\n"+stdout)
	}
	return nil
}

// Reload tests and reloads nginx when the conf differs from its last good
// copy (or Force), then waits for the new workers and, with waitOld, for
// the old ones to exit.
func (n *Nginx) Reload(ctx context.Context, waitOld bool) (Step, error) {
	data, changed, err := n.pending(n.Conf)
	if err != nil {
		return Step{}, fmt.Errorf("nginx: reading the conf: %w (render it first)", err)
	}
	name := filepath.Base(n.Conf)
	if !changed && !n.Force {
		return Step{Msg: "nginx already serves " + name}, nil
	}
	ctr, err := n.container(ctx)
	if err != nil {
		return Step{}, err
	}
	if err := n.validate(ctx, ctr); err != nil {
		return Step{}, err
	}
	return n.reload(ctx, ctr, data, waitOld)
}

func (n *Nginx) reload(ctx context.Context, ctr Container, data []byte, waitOld bool) (Step, error) {
	name := filepath.Base(n.Conf)
	before, err := ctr.Processes(ctx)
	if err != nil {
		return Step{}, fmt.Errorf("nginx: %w", err)
	}
	old := NginxWorkers(before)
	start := time.Now()
	rc, stdout, stderr, err := ctr.Exec(ctx, "nginx", "-s", "reload")
	if err != nil {
		return Step{}, fmt.Errorf("nginx -s reload in the proxy: %w", err)
	}
	if rc != 0 {
		return Step{}, fmt.Errorf("nginx -s reload in the proxy exited with rc=%d: %s\n  see `docker logs` of the proxy; nginx keeps serving its current configuration", rc, tail(stderr, stdout))
	}
	// nginx accepted it (-t) and was told to load it: the new last good copy.
	good := n.Conf + GoodSuffix
	if err := atomicfile.Write(good, data, 0o644); err != nil {
		return Step{Changed: true}, fmt.Errorf("nginx reloaded, but saving %s failed: %w (the next run reloads again)", good, err)
	}
	res := Step{Changed: true}
	if len(old) == 0 {
		res.Msg = fmt.Sprintf("validated, reloaded nginx with %s (no worker process seen before the reload: not waited for)", name)
		return res, nil
	}
	timeout, poll := n.Timeout, n.Poll
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	for {
		procs, err := ctr.Processes(ctx)
		if err != nil {
			return res, fmt.Errorf("nginx reloaded, but: %w", err)
		}
		now := NginxWorkers(procs)
		var left, fresh []string
		for pid := range now {
			if old[pid] {
				left = append(left, pid)
			} else {
				fresh = append(fresh, pid)
			}
		}
		if len(left) == 0 && len(fresh) > 0 {
			res.Msg = fmt.Sprintf("validated, reloaded nginx with %s (old workers gone after %s)", name, since(start))
			return res, nil
		}
		if !waitOld && len(fresh) > 0 {
			res.Msg = fmt.Sprintf("validated, reloaded nginx with %s (new workers up after %s; %d old one(s) finish in the background)", name, since(start), len(left))
			return res, nil
		}
		if time.Now().After(deadline) {
			slices.Sort(left)
			if len(fresh) == 0 {
				return res, fmt.Errorf("sent nginx the reload signal, but no new worker process started within %s: nginx did not apply %s; see `docker logs` of the proxy", timeout, name)
			}
			return res, fmt.Errorf("nginx reloaded %s, but %d old worker process(es) (pid %s) still run after %s, finishing requests or long-lived connections; "+
				"until they exit, servers the new conf marks down may still get traffic: raise timeout, or set nginx's worker_shutdown_timeout",
				name, len(left), strings.Join(left, ", "), timeout)
		}
		n.progressf("reloading nginx: %d old worker(s) left, %s", len(left), time.Since(start).Round(100*time.Millisecond))
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("waiting for nginx's old workers: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Drain renders the conf with upstream's down servers marked down, tests
// it and reloads, returning once every older worker has exited.
func (n *Nginx) Drain(ctx context.Context, upstream []Server) (Step, error) {
	return n.apply(ctx, upstream, true)
}

// Undrain renders the conf with every healthy replica in and reloads; it
// takes no server out, so it need not wait for the old workers (the next
// drain does), unless settle.
func (n *Nginx) Undrain(ctx context.Context, upstream []Server, settle bool) (Step, error) {
	return n.apply(ctx, upstream, settle)
}

func (n *Nginx) apply(ctx context.Context, upstream []Server, waitOld bool) (Step, error) {
	r, err := n.Render(upstream)
	if err != nil {
		return Step{}, fmt.Errorf("nginx: rendering %s: %w", filepath.Base(n.Conf), err)
	}
	s, err := n.Reload(ctx, waitOld)
	if err != nil {
		return s, err // a rejected conf was restored: only a reload changed something
	}
	if r.Changed {
		s.Changed = true
		s.Msg = fmt.Sprintf("%s (%s); %s", r.Msg, downNames(upstream), s.Msg)
	}
	return s, err
}

// Plan says whether the conf for upstream differs and nginx would reload.
func (n *Nginx) Plan(_ context.Context, upstream []Server) (Step, error) {
	data, err := n.Template(upstream)
	if err != nil {
		return Step{}, fmt.Errorf("nginx: rendering %s: %w", filepath.Base(n.Conf), err)
	}
	// The conf as an earlier step of a --check run left it, and as nginx
	// last accepted it.
	cur, err := n.read(n.Conf)
	good, gerr := os.ReadFile(n.Conf + GoodSuffix)
	if err == nil && gerr == nil && string(cur) == string(data) && string(good) == string(data) && !n.Force {
		return Step{Msg: "nginx already serves " + filepath.Base(n.Conf)}, nil
	}
	if n.Stage != nil {
		n.Stage(n.Conf, data)
	}
	return Step{Changed: true, Msg: fmt.Sprintf("would render %s (%s), test and reload nginx", filepath.Base(n.Conf), downNames(upstream))}, nil
}

// NginxWorkers are the PIDs of nginx worker processes, old ("is shutting
// down") or new: what a reload waits on, and what its tests look at.
func NginxWorkers(procs []docker.Process) map[string]bool {
	w := map[string]bool{}
	for _, p := range procs {
		if strings.HasPrefix(p.Cmd, "nginx: worker process") {
			w[p.PID] = true
		}
	}
	return w
}
