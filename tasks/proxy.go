package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/proxy"
)

// Proxy is one step of the proxy in front of a rollout's replicas, whichever
// proxy it is (internal/proxy: one interface, nginx and HAProxy), so that the
// rollout says what to do and not how:
//
//   - action "setup": what the proxy reads before it starts. nginx: its conf
//     directory DIR/nginx (the conf names replicas, so the first drain
//     renders it). haproxy: DIR/haproxy/run (the runtime API's sockets) and
//     DIR/haproxy/haproxy.cfg from TEMPLATES/haproxy.cfg.tmpl, which names no
//     replica; when a running HAProxy serves an older one, it is tested
//     (`haproxy -c`) and reloaded seamlessly.
//   - action "drain": upstream's down servers out of service, returning once
//     nothing runs on them. nginx: DIR/nginx/default.conf rendered from
//     TEMPLATES/nginx.conf.tmpl, `nginx -t` (a rejected conf is replaced by
//     the last good one, default.conf.good, and the task fails), reload, wait
//     until every older worker has exited. haproxy: no reload; servers set
//     over the runtime API, drain then maint once their sessions are 0
//     (bounded by drain_timeout), every other server in.
//   - action "undrain": every server of upstream that is not down in service.
//     nginx: as drain, but it returns once the new workers run (it takes no
//     server out), unless settle (a heal: every replica was out). haproxy:
//     address, ready, returns once its check passes.
//
// The templates see the playbook's values (in a module: only what vars
// passes) plus upstream (a list of { name, address, down }), app_port and
// health_path. Changed when a file, a
// server's state or the running configuration changed; the recap line says
// what was rendered, validated, reloaded or drained. Check reports what
// Apply would do.
//
//	task "proxy" "drain" {
//	  proxy         = var.proxy         # nginx or haproxy
//	  action        = "drain"           # setup, drain or undrain
//	  dir           = local.dir         # the proxy's files go in DIR/nginx or DIR/haproxy
//	  templates     = "../templates"    # nginx.conf.tmpl, haproxy.cfg.tmpl (relative to this file)
//	  vars          = param.stack       # optional: more template data (proxy_next_upstream, slots)
//	  project       = local.project     # the proxy is this project's service
//	  service       = "proxy"           # optional, default "proxy"
//	  upstream      = rollout.upstream  # drain and undrain
//	  port          = 3000              # optional: the replicas' port
//	  health_path   = "/ping"           # optional: HAProxy's active check
//	  settle        = rollout.heal      # optional, undrain
//	  drain_timeout = "30s"             # optional, haproxy
//	}
type Proxy struct {
	Proxy        string    `hcl:"proxy"`
	Action       string    `hcl:"action"`
	Dir          string    `hcl:"dir"`
	Templates    string    `hcl:"templates"`
	Vars         cty.Value `hcl:"vars,optional"`
	Project      string    `hcl:"project"`
	Service      string    `hcl:"service,optional"`
	Upstream     cty.Value `hcl:"upstream,optional"`
	Port         int       `hcl:"port,optional"`
	HealthPath   string    `hcl:"health_path,optional"`
	Settle       bool      `hcl:"settle,optional"`
	DrainTimeout string    `hcl:"drain_timeout,optional"`
}

var _ Task = (*Proxy)(nil)
var _ Validator = (*Proxy)(nil)
var _ DefaultTimeouter = (*Proxy)(nil)

func init() { Register("proxy", func() Task { return &Proxy{} }) }

// The template of each proxy, in templates, and the file it renders to, in
// DIR/PROXY.
var proxyFiles = map[string][2]string{
	"nginx":   {"nginx.conf.tmpl", "default.conf"},
	"haproxy": {"haproxy.cfg.tmpl", "haproxy.cfg"},
}

func (t *Proxy) service() string    { return cmp.Or(t.Service, "proxy") }
func (t *Proxy) port() int          { return cmp.Or(t.Port, 3000) }
func (t *Proxy) healthPath() string { return cmp.Or(t.HealthPath, "/ping") }

func (t *Proxy) drainTimeout() (time.Duration, error) {
	if t.DrainTimeout == "" {
		return 30 * time.Second, nil
	}
	d, err := time.ParseDuration(t.DrainTimeout)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("proxy: drain_timeout %q is not a duration such as \"30s\"", t.DrainTimeout)
	}
	return d, nil
}

// DefaultTimeout bounds the step: a reload and its old workers (15 s), or
// for HAProxy the drain's own bound and a readied server's check.
func (t *Proxy) DefaultTimeout() time.Duration {
	d, err := t.drainTimeout()
	if t.Proxy != "haproxy" || err != nil {
		return 15 * time.Second
	}
	return d + 15*time.Second
}

func (t *Proxy) template(env *Env) *Template {
	f := proxyFiles[t.Proxy]
	return &Template{Src: filepath.Join(t.Templates, f[0]), Dest: filepath.Join(t.Dir, t.Proxy, f[1])}
}

// Validate checks the attributes, and parses the proxy's template, before
// the run starts.
func (t *Proxy) Validate(env *Env) error {
	if _, ok := proxyFiles[t.Proxy]; !ok {
		return fmt.Errorf("proxy: proxy = %q: the proxy is nginx or haproxy (-e proxy=nginx|haproxy)", t.Proxy)
	}
	switch t.Action {
	case "setup", "drain", "undrain":
	default:
		return fmt.Errorf("proxy: action = %q: it is setup, drain or undrain", t.Action)
	}
	if err := composeRequire("proxy", "dir", t.Dir, "templates", t.Templates, "project", t.Project); err != nil {
		return err
	}
	if _, err := t.drainTimeout(); err != nil {
		return err
	}
	if !t.Vars.IsNull() && t.Vars.IsKnown() {
		if _, ok := GoValue(t.Vars).(map[string]any); !ok {
			return errors.New("proxy: vars must be an object, e.g. vars = { proxy_next_upstream = true }")
		}
	}
	if _, err := t.servers(); err != nil {
		return err
	}
	if err := t.template(env).Validate(env); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	return nil
}

// vars is the template data that vars adds (nil: none; Validate refuses
// what is not an object).
func (t *Proxy) vars() map[string]any {
	data := map[string]any{}
	if !t.Vars.IsNull() && t.Vars.IsKnown() {
		if extra, ok := GoValue(t.Vars).(map[string]any); ok {
			maps.Copy(data, extra)
		}
	}
	return data
}

// servers reads upstream, rollout.upstream's list of { name, address, down }.
func (t *Proxy) servers() ([]proxy.Server, error) {
	if t.Upstream.IsNull() || !t.Upstream.IsKnown() {
		return nil, nil
	}
	list, ok := GoValue(t.Upstream).([]any)
	if !ok {
		return nil, errors.New("proxy: upstream must be a list of { name, address, down } (rollout.upstream)")
	}
	var out []proxy.Server
	for i, e := range list {
		m, ok := e.(map[string]any)
		name, _ := m["name"].(string)
		addr, _ := m["address"].(string)
		down, _ := m["down"].(bool)
		if !ok || name == "" || (addr == "" && down) {
			return nil, fmt.Errorf("proxy: upstream[%d] needs a name and an address, got %v", i, e)
		}
		out = append(out, proxy.Server{Name: name, Address: addr, Down: down})
	}
	return out, nil
}

// notRunning names the servers to put in that have no address: their
// containers do not run (bluegreen lists every replica of the colour it
// switches to). Apply fails on them before any server is touched, so the
// other colour is never drained for want of them.
func notRunning(up []proxy.Server) []string {
	var names []string
	for _, s := range up {
		if !s.Down && s.Address == "" {
			names = append(names, s.Name)
		}
	}
	return names
}

// build makes the proxy; check makes its files staged, not written.
func (t *Proxy) build(ctx context.Context, env *Env, check bool) (proxy.Proxy, error) {
	if err := t.Validate(env); err != nil {
		return nil, err
	}
	tmpl := t.template(env)
	c := proxy.Common{
		Template: func(upstream []proxy.Server) ([]byte, error) {
			up := make([]any, len(upstream))
			for i, s := range upstream {
				up[i] = map[string]any{"name": s.Name, "address": s.Address, "down": s.Down}
			}
			data := t.vars()
			maps.Copy(data, map[string]any{"upstream": up, "app_port": t.port(), "health_path": t.healthPath()})
			return tmpl.render(env, data)
		},
		Container: func(ctx context.Context) (proxy.Container, error) {
			return runningContainer(ctx, env, "proxy", t.Project, t.service())
		},
		Progress: env.Progressf,
	}
	if env.Shared != nil {
		c.Read = env.Shared.ReadFile
		if check {
			c.Stage = env.Shared.Stage
		}
	}
	if t.Proxy == "nginx" {
		return &proxy.Nginx{Common: c, Conf: tmpl.Dest, Timeout: composeBound(ctx, t.DefaultTimeout())}, nil
	}
	d, _ := t.drainTimeout()
	return &proxy.Haproxy{Common: c, Dir: filepath.Join(t.Dir, "haproxy"), Port: t.port(), DrainTimeout: d}, nil
}

// run does the action, or with check says what it would do: drain and
// undrain ask the proxy's Plan, setup runs with its files staged, not
// written. Servers to put in that do not run fail Apply before anything
// changes; Check reports them as what it would put in once they run.
func (t *Proxy) run(ctx context.Context, env *Env, check bool) (Result, error) {
	p, err := t.build(ctx, env, check)
	if err != nil {
		return Result{}, err
	}
	up, _ := t.servers()
	if missing := notRunning(up); len(missing) > 0 && t.Action != "setup" {
		if check {
			return Result{Changed: true, Msg: "would put " + strings.Join(missing, ", ") + " in once they run"}, nil
		}
		return Result{}, fmt.Errorf("proxy %s: %s not running (no address): nothing was changed, no server drained", t.Proxy, strings.Join(missing, ", "))
	}
	var s proxy.Step
	switch {
	case t.Action == "setup":
		s, err = p.Setup(ctx)
	case check:
		s, err = p.Plan(ctx, up)
	case t.Action == "drain":
		s, err = p.Drain(ctx, up)
	default:
		s, err = p.Undrain(ctx, up, t.Settle)
	}
	if err != nil && !check {
		err = fmt.Errorf("proxy %s: %w", t.Proxy, err)
	}
	return Result{Changed: s.Changed, Msg: s.Msg}, err
}

// Check reports what Apply would do.
func (t *Proxy) Check(ctx context.Context, env *Env) (Result, error) {
	return t.run(ctx, env, true)
}

// Apply runs the action.
func (t *Proxy) Apply(ctx context.Context, env *Env) (Result, error) {
	return t.run(ctx, env, false)
}

// runningContainer is the project's service container when it runs, nil
// when it has none or it is not running.
func runningContainer(ctx context.Context, env *Env, kind, project, service string) (proxy.Container, error) {
	c, err := composeDocker(ctx, env, kind)
	if err != nil {
		return nil, err
	}
	ctr, err := c.ContainerOf(ctx, project, service)
	if errors.Is(err, docker.ErrNoContainer) || (err == nil && !ctr.Running) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return &dockerContainer{c: c, id: ctr.ID}, nil
}

// dockerContainer is a proxy's container over the Engine API.
type dockerContainer struct {
	c  *docker.Client
	id string
}

func (d *dockerContainer) Exec(ctx context.Context, cmd ...string) (int, string, string, error) {
	return d.c.ExecIn(ctx, d.id, cmd)
}

func (d *dockerContainer) Processes(ctx context.Context) ([]docker.Process, error) {
	return d.c.Top(ctx, d.id)
}
