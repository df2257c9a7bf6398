package tasks

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zdplay/zdplay/internal/proxy"
)

// ProxyReload makes the nginx of the compose project's proxy service serve
// a conf rendered on the host (in a directory bind-mounted into the proxy)
// by a template task: bluegreen.hcl's switch. (A rollout's proxy steps are
// the proxy kind's, which renders its conf itself; both reload through
// internal/proxy's Nginx.)
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
var _ DefaultTimeouter = (*ProxyReload)(nil)

func init() { Register("proxy_reload", func() Task { return &ProxyReload{} }) }

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
	good, err := os.ReadFile(conf + proxy.GoodSuffix)
	return conf, data, err != nil || !bytes.Equal(data, good), nil
}

// Check reports whether Apply would test and reload nginx.
func (t *ProxyReload) Check(ctx context.Context, env *Env) (Result, error) {
	conf, _, changed, err := t.pending(env)
	if err != nil {
		return Result{}, err
	}
	if _, _, err := loadService(ctx, env, "proxy_reload", t.File, t.Project, t.service()); err != nil {
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
	conf, _, changed, err := t.pending(env)
	if err != nil {
		return Result{}, err
	}
	if !changed && !t.Force {
		return Result{Msg: fmt.Sprintf("nginx in %s already serves %s", t.service(), filepath.Base(conf))}, nil
	}
	timeout := composeBound(ctx, t.DefaultTimeout())
	c, p, err := loadService(ctx, env, "proxy_reload", t.File, t.Project, t.service())
	if err != nil {
		return Result{}, err
	}
	ctr, err := c.ContainerOf(ctx, p.Name, t.service())
	if err != nil {
		return Result{}, fmt.Errorf("proxy_reload: %w", err)
	}
	if !ctr.Running {
		return Result{}, fmt.Errorf("proxy_reload: %s's container %s is %s, not running: bring it up first (compose_up)", t.service(), ctr.Name, ctr.State)
	}
	ng := &proxy.Nginx{
		Common: proxy.Common{
			Container: func(context.Context) (proxy.Container, error) { return &dockerContainer{c: c, id: ctr.ID}, nil },
			Progress:  env.Progressf,
		},
		Conf: conf, Timeout: timeout, Force: t.Force,
	}
	s, err := ng.Reload(ctx, t.WaitOldWorkers == nil || *t.WaitOldWorkers)
	if err != nil {
		return Result{Changed: s.Changed}, fmt.Errorf("proxy_reload: %s: %w", t.service(), err)
	}
	return Result{Changed: s.Changed, Msg: s.Msg}, nil
}
