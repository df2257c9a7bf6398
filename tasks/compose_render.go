package tasks

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zdplay/zdplay/internal/docker"
)

// ComposeRender writes the stack zdplay runs from a user's compose file,
// which it never modifies: the file as compose-go loads it (interpolation,
// .env, extends and includes as Compose does; every other service, volume,
// network, secret, config, profile and x- extension kept), with `service`
// replaced by its `replicas` (copies at `version`, without its host ports),
// a migration service when `migrate` is set, and the proxy on
// 127.0.0.1:`proxy_port`: nginx (`proxy_image`, with `proxy_dir` mounted as its
// conf.d) or HAProxy (`haproxy_image`, with `proxy_dir` mounted as
// /etc/haproxy and its run/ as /run/haproxy, the runtime API's sockets). dest is written atomically, mode 0600 (it holds the
// interpolated environment). Changed when dest's bytes differ; Check stages
// what it would write, for the kinds that read dest later in a --check run.
//
//	task "compose_render" "stack" {
//	  compose     = var.compose          # the user's file
//	  service     = "web"
//	  project     = local.project
//	  replicas    = rollout.services     # ["web_1", "web_2"]
//	  version     = rollout.release
//	  dest        = local.stack
//	  proxy_port  = 8000
//	  proxy       = "nginx"              # optional: nginx (default) or haproxy
//	  proxy_image = "zdplay-demo/nginx:local"
//	  haproxy_image = "zdplay-demo/haproxy:local" # with proxy = "haproxy"
//	  proxy_dir   = "${local.dir}/nginx" # the proxy's files on the host
//	  migrate     = []                   # optional argv
//	  env         = {}                   # optional: the file's ${NAME} values
//	}
type ComposeRender struct {
	Compose      string   `hcl:"compose"`
	Service      string   `hcl:"service"`
	Project      string   `hcl:"project,optional"`
	Replicas     []string `hcl:"replicas"`
	Version      string   `hcl:"version,optional"`
	Dest         string   `hcl:"dest"`
	ProxyPort    int      `hcl:"proxy_port"`
	Proxy        string   `hcl:"proxy,optional"`
	ProxyImage   string   `hcl:"proxy_image"`
	HaproxyImage string   `hcl:"haproxy_image,optional"`
	ProxyDir     string   `hcl:"proxy_dir"`
	Migrate      []string `hcl:"migrate,optional"`
	// Env are values for the file's ${NAME} interpolation, as compose_app's.
	Env map[string]string `hcl:"env,optional"`
}

var _ Task = (*ComposeRender)(nil)

func init() { Register("compose_render", func() Task { return &ComposeRender{} }) }

func (t *ComposeRender) render(ctx context.Context, env *Env) (string, []byte, bool, error) {
	const kind = "compose_render"
	if err := composeRequire(kind, "compose", t.Compose, "service", t.Service, "dest", t.Dest, "proxy_image", t.ProxyImage, "proxy_dir", t.ProxyDir); err != nil {
		return "", nil, false, err
	}
	image := t.ProxyImage
	switch t.Proxy {
	case "", "nginx":
	case "haproxy":
		if image = t.HaproxyImage; image == "" {
			return "", nil, false, fmt.Errorf("%s: proxy = \"haproxy\" needs haproxy_image", kind)
		}
	default:
		return "", nil, false, fmt.Errorf("%s: proxy = %q: the proxy is nginx or haproxy", kind, t.Proxy)
	}
	if t.ProxyPort < 1 || t.ProxyPort > 65535 {
		return "", nil, false, fmt.Errorf("%s: proxy_port = %d is not a TCP port (1-65535)", kind, t.ProxyPort)
	}
	if len(t.Replicas) == 0 {
		return "", nil, false, fmt.Errorf("%s: replicas is empty: name at least one replica service", kind)
	}
	p, app, err := docker.LoadApp(ctx, t.Compose, t.Project, t.Service, t.Env)
	if err != nil {
		return "", nil, false, fmt.Errorf("%s: %w", kind, err)
	}
	dir, err := filepath.Abs(t.ProxyDir)
	if err != nil {
		return "", nil, false, fmt.Errorf("%s: proxy_dir: %w", kind, err)
	}
	b, err := docker.RenderStack(p, app, docker.Stack{Replicas: t.Replicas, Version: t.Version,
		Haproxy: t.Proxy == "haproxy", ProxyImage: image, ProxyPort: t.ProxyPort, ProxyDir: dir, Migrate: t.Migrate})
	if err != nil {
		return "", nil, false, fmt.Errorf("%s: %w", kind, err)
	}
	old, err := composeReadFile(env, t.Dest)
	if err != nil && !os.IsNotExist(err) {
		return "", nil, false, fmt.Errorf("%s: reading %s: %w", kind, t.Dest, err)
	}
	return t.Dest, b, !bytes.Equal(old, b), nil
}

// Check stages what Apply would write.
func (t *ComposeRender) Check(ctx context.Context, env *Env) (Result, error) {
	dest, b, changed, err := t.render(ctx, env)
	if err != nil || !changed {
		return Result{}, err
	}
	if env != nil && env.Shared != nil {
		env.Shared.Stage(dest, b)
	}
	return Result{Changed: true, Msg: "would write " + dest}, nil
}

// Apply writes dest when it changed.
func (t *ComposeRender) Apply(ctx context.Context, env *Env) (Result, error) {
	dest, b, changed, err := t.render(ctx, env)
	if err != nil || !changed {
		return Result{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return Result{}, fmt.Errorf("compose_render: %w", err)
	}
	if err := writeAtomic(dest, b, 0o600); err != nil {
		return Result{}, fmt.Errorf("compose_render: %w", err)
	}
	return Result{Changed: true, Msg: fmt.Sprintf("wrote %s (%s as %d replica(s) at %s)", dest, t.Service, len(t.Replicas), t.Version)}, nil
}
