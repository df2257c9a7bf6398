package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
)

// ProxyReload makes the nginx of the compose project's proxy service serve
// the conf rendered on the host (in a directory bind-mounted into the proxy):
//
//  1. `nginx -t` in the proxy container. When nginx rejects the conf, the
//     last known good conf (conf + ".good") is copied back over conf (left
//     as is when there is none) and the task fails with nginx's message;
//     nginx itself keeps serving its previous configuration.
//  2. `nginx -s reload`, then it waits until the reload has taken effect:
//     new worker processes run and the old ones have exited (they exit once
//     their in-flight requests are done), seen through the engine's process
//     list, within the task's timeout (10s when the task has none). So once
//     proxy_reload returns, no request reaches a server the new conf marks
//     down.
//  3. conf is copied to conf + ".good".
//
// With wait_old_workers = false, step 2 returns as soon as the new workers
// run, and the old ones finish their requests in the background: for a conf
// that takes no server out (putting a replica back), where nothing waits on
// them. The next reload that does take one out waits for every worker older
// than it, those included.
//
// Changed is true when it reloaded. When conf's bytes equal conf + ".good"
// (already applied) it does nothing, unless force = true. Check reports
// whether it would reload, without testing nor reloading.
//
//	task "proxy_reload" "drain app_1" {
//	  file    = "../compose.yaml"
//	  project = var.project
//	  conf    = local.conf      # e.g. ".../nginx/default.conf", on the host
//	  service = "proxy"         # optional, default "proxy"
//	  timeout = "10s"           # the runner's task timeout: bounds the wait
//	  force   = false           # optional
//	  wait_old_workers = false  # optional, default true
//	}
type ProxyReload struct {
	File           string `hcl:"file"`
	Project        string `hcl:"project"`
	Conf           string `hcl:"conf"`
	Service        string `hcl:"service,optional"`
	Force          bool   `hcl:"force,optional"`
	WaitOldWorkers *bool  `hcl:"wait_old_workers,optional"`
}

var _ Task = (*ProxyReload)(nil)
var _ Validator = (*ProxyReload)(nil)

func init() { Register("proxy_reload", func() Task { return &ProxyReload{} }) }

// goodSuffix names the copy of the last conf nginx accepted.
const goodSuffix = ".good"

func (t *ProxyReload) service() string {
	if t.Service == "" {
		return "proxy"
	}
	return t.Service
}

// DefaultTimeout bounds the wait for old nginx workers when the task sets no
// timeout: a worker still busy after that is a stuck request, not a drain.
func (t *ProxyReload) DefaultTimeout() time.Duration { return 15 * time.Second }

// Validate checks the attributes before the run starts.
func (t *ProxyReload) Validate(*Env) error {
	return composeRequire("proxy_reload", "conf", t.Conf)
}

// pending reads conf and tells whether it differs from the last good copy.
func (t *ProxyReload) pending(env *Env) (conf string, data []byte, changed bool, err error) {
	if err := t.Validate(env); err != nil {
		return "", nil, false, err
	}
	conf = t.Conf
	data, err = composeReadFile(env, conf)
	if err != nil {
		return conf, nil, false, fmt.Errorf("proxy_reload: reading conf: %w (render it first, e.g. with a template task)", err)
	}
	good, err := os.ReadFile(conf + goodSuffix)
	return conf, data, err != nil || !bytes.Equal(data, good), nil
}

// Check reports whether Apply would test and reload nginx.
func (t *ProxyReload) Check(ctx context.Context, env *Env) (Result, error) {
	conf, _, changed, err := t.pending(env)
	if err != nil {
		return Result{}, err
	}
	_, p, err := loadCompose(ctx, env, "proxy_reload", t.File, t.Project)
	if err != nil {
		return Result{}, err
	}
	if err := composeService("proxy_reload", p, t.service()); err != nil {
		return Result{}, err
	}
	switch {
	case changed:
		return Result{Changed: true, Msg: fmt.Sprintf("would test and reload nginx in %s: %s changed", t.service(), filepath.Base(conf))}, nil
	case t.Force:
		return Result{Changed: true, Msg: fmt.Sprintf("would test and reload nginx in %s (force)", t.service())}, nil
	}
	return Result{Msg: fmt.Sprintf("nginx in %s already serves %s", t.service(), filepath.Base(conf))}, nil
}

// Apply tests, reloads and waits for the old workers to exit.
func (t *ProxyReload) Apply(ctx context.Context, env *Env) (Result, error) {
	conf, data, changed, err := t.pending(env)
	if err != nil {
		return Result{}, err
	}
	if !changed && !t.Force {
		return Result{Msg: fmt.Sprintf("nginx in %s already serves %s", t.service(), filepath.Base(conf))}, nil
	}
	timeout := composeBound(ctx, t.DefaultTimeout())
	c, p, err := loadCompose(ctx, env, "proxy_reload", t.File, t.Project)
	if err != nil {
		return Result{}, err
	}
	if err := composeService("proxy_reload", p, t.service()); err != nil {
		return Result{}, err
	}
	ctr, err := c.ContainerOf(ctx, p.Name, t.service())
	if err != nil {
		return Result{}, fmt.Errorf("proxy_reload: %w", err)
	}
	if !ctr.Running {
		return Result{}, fmt.Errorf("proxy_reload: %s's container %s is %s, not running: bring it up first (compose_up)", t.service(), ctr.Name, ctr.State)
	}
	ng := &dockerNginx{c: c, id: ctr.ID}
	waitOld := t.WaitOldWorkers == nil || *t.WaitOldWorkers
	return reloadNginx(ctx, env, ng, t.service(), conf, data, waitOld, timeout, 50*time.Millisecond)
}

// nginxCtl is what reloadNginx needs of the proxy container.
type nginxCtl interface {
	exec(ctx context.Context, cmd ...string) (rc int, stdout, stderr string, err error)
	processes(ctx context.Context) ([]docker.Process, error)
}

type dockerNginx struct {
	c  *docker.Client
	id string
}

func (d *dockerNginx) exec(ctx context.Context, cmd ...string) (int, string, string, error) {
	return d.c.ExecIn(ctx, d.id, cmd)
}

func (d *dockerNginx) processes(ctx context.Context) ([]docker.Process, error) {
	return d.c.Top(ctx, d.id)
}

// reloadNginx is Apply once the container is known: test, restore on
// failure, reload, save the good copy, wait for new workers and, with
// waitOld, for the old ones to exit (polling the process list every poll,
// up to timeout).
func reloadNginx(ctx context.Context, env *Env, ng nginxCtl, service, conf string, data []byte, waitOld bool, timeout, poll time.Duration) (Result, error) {
	name := filepath.Base(conf)
	good := conf + goodSuffix

	rc, stdout, stderr, err := ng.exec(ctx, "nginx", "-t")
	if err != nil {
		return Result{}, fmt.Errorf("proxy_reload: nginx -t in %s: %w", service, err)
	}
	if rc != 0 {
		msg := strings.TrimSpace(stderr + "\n" + stdout)
		prev, rerr := os.ReadFile(good)
		switch {
		case rerr == nil:
			// In place (not a rename): conf may itself be a bind-mounted file.
			if werr := os.WriteFile(conf, prev, 0o644); werr != nil {
				return Result{}, fmt.Errorf("proxy_reload: nginx rejected %s:\n%s\nand restoring the last good copy %s failed: %v; nginx keeps serving its current configuration: fix %s by hand",
					conf, waitIndent(msg), good, werr, conf)
			}
			return Result{}, fmt.Errorf("proxy_reload: nginx rejected %s (nothing reloaded, nginx keeps serving its current configuration):\n%s\n"+
				"  restored the last good %s from %s; fix the template or its variables and run again", conf, waitIndent(msg), name, good)
		case errors.Is(rerr, fs.ErrNotExist):
			return Result{}, fmt.Errorf("proxy_reload: nginx rejected %s (nothing reloaded, nginx keeps serving its current configuration):\n%s\n"+
				"  there is no last good copy (%s) to restore, so %s is left as is; fix the template or its variables and run again", conf, waitIndent(msg), good, name)
		default:
			return Result{}, fmt.Errorf("proxy_reload: nginx rejected %s:\n%s\nand reading the last good copy failed: %v", conf, waitIndent(msg), rerr)
		}
	}

	before, err := ng.processes(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("proxy_reload: %w", err)
	}
	old := nginxWorkers(before)

	start := time.Now()
	rc, stdout, stderr, err = ng.exec(ctx, "nginx", "-s", "reload")
	if err != nil {
		return Result{}, fmt.Errorf("proxy_reload: nginx -s reload in %s: %w", service, err)
	}
	if rc != 0 {
		return Result{}, fmt.Errorf("proxy_reload: nginx -s reload in %s exited with rc=%d: %s\n  see `docker logs` of the proxy; nginx keeps serving its current configuration",
			service, rc, execTail(stderr, stdout))
	}
	// nginx accepted it (-t) and was told to load it: the new last good copy.
	if err := writeAtomic(good, data, 0o644); err != nil {
		return Result{Changed: true}, fmt.Errorf("proxy_reload: nginx reloaded, but saving %s failed: %w (the next run reloads again)", good, err)
	}

	res := Result{Changed: true}
	if len(old) == 0 {
		res.Msg = fmt.Sprintf("reloaded nginx in %s with %s (no worker process seen before the reload: not waited for)", service, name)
		return res, nil
	}
	deadline := time.Now().Add(timeout)
	for {
		procs, err := ng.processes(ctx)
		if err != nil {
			return res, fmt.Errorf("proxy_reload: nginx reloaded, but: %w", err)
		}
		now := nginxWorkers(procs)
		var left, fresh []string
		for pid := range now {
			if old[pid] {
				left = append(left, pid)
			} else {
				fresh = append(fresh, pid)
			}
		}
		if len(left) == 0 && len(fresh) > 0 {
			res.Msg = fmt.Sprintf("reloaded nginx in %s with %s (old workers gone after %s)", service, name, time.Since(start).Round(time.Millisecond))
			return res, nil
		}
		if !waitOld && len(fresh) > 0 {
			res.Msg = fmt.Sprintf("reloaded nginx in %s with %s (new workers up after %s; %d old one(s) finish in the background)", service, name, time.Since(start).Round(time.Millisecond), len(left))
			return res, nil
		}
		if time.Now().After(deadline) {
			slices.Sort(left)
			if len(fresh) == 0 {
				return res, fmt.Errorf("proxy_reload: sent nginx in %s the reload signal, but no new worker process started within %s: nginx did not apply %s; see `docker logs` of the proxy",
					service, timeout, name)
			}
			return res, fmt.Errorf("proxy_reload: nginx in %s reloaded %s, but %d old worker process(es) (pid %s) still run after %s, finishing requests or long-lived connections; "+
				"until they exit, servers the new conf marks down may still get traffic: raise timeout, or set nginx's worker_shutdown_timeout",
				service, name, len(left), strings.Join(left, ", "), timeout)
		}
		env.Progressf("reloading nginx in %s: %d old worker(s) left, %s", service, len(left), time.Since(start).Round(100*time.Millisecond))
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("proxy_reload: waiting for nginx's old workers: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// nginxWorkers are the PIDs of nginx worker processes, old ("is shutting
// down") or new.
func nginxWorkers(procs []docker.Process) map[string]bool {
	w := map[string]bool{}
	for _, p := range procs {
		if strings.HasPrefix(p.Cmd, "nginx: worker process") {
			w[p.PID] = true
		}
	}
	return w
}
