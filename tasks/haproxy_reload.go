package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/haproxy"
)

// HaproxyReload makes a running HAProxy (master-worker) serve conf, the
// haproxy.cfg rendered on the host and bind-mounted into the proxy, with a
// seamless reload through the master CLI: the servers' state (addresses,
// ready/drain/maint) is first written to servers.state beside the admin
// socket, which the configuration loads (server-state-file,
// load-server-state-from-file), and the new worker takes the listening
// sockets over from the old one (expose-fd listeners), so no connection is
// refused and the slots keep their replicas. (HAProxy 2.6's old worker
// still closes its idle client keep-alive connections: GET clients retry,
// a POST may fail. Replicas therefore come and go through the slots, never
// by a reload.)
//
// Changed is true when it reloaded: conf differs from the last copy applied
// (conf + ".good"). With no such copy, a worker started after conf was
// written already runs it: the copy is recorded without reloading. A
// configuration the new worker rejects leaves the old one serving; the task
// fails and restores the last good conf. Check reports whether it would
// reload.
//
//	task "haproxy_reload" "haproxy.cfg" {
//	  conf          = "${local.dir}/haproxy/haproxy.cfg"
//	  socket        = "${local.dir}/haproxy/run/admin.sock"
//	  master_socket = "${local.dir}/haproxy/run/master.sock"
//	}
type HaproxyReload struct {
	Conf         string `hcl:"conf"`
	Socket       string `hcl:"socket"`
	MasterSocket string `hcl:"master_socket"`
}

var _ Task = (*HaproxyReload)(nil)

func init() { Register("haproxy_reload", func() Task { return &HaproxyReload{} }) }

// DefaultTimeout bounds the wait for the new worker.
func (t *HaproxyReload) DefaultTimeout() time.Duration { return 15 * time.Second }

func (t *HaproxyReload) pending(env *Env) ([]byte, bool, error) {
	data, err := composeReadFile(env, t.Conf)
	if err != nil {
		return nil, false, fmt.Errorf("haproxy_reload: reading conf: %w (render it first, e.g. with a template task)", err)
	}
	good, err := os.ReadFile(t.Conf + goodSuffix)
	return data, err != nil || !bytes.Equal(data, good), nil
}

// Check reports whether Apply would reload.
func (t *HaproxyReload) Check(ctx context.Context, env *Env) (Result, error) {
	_, changed, err := t.pending(env)
	if err != nil {
		return Result{}, err
	}
	if changed {
		return Result{Changed: true, Msg: fmt.Sprintf("would reload haproxy with %s if its worker runs an older one", filepath.Base(t.Conf))}, nil
	}
	return Result{Msg: fmt.Sprintf("haproxy already serves %s", filepath.Base(t.Conf))}, nil
}

// Apply reloads when conf changed since the running worker read it.
func (t *HaproxyReload) Apply(ctx context.Context, env *Env) (Result, error) {
	data, changed, err := t.pending(env)
	if err != nil {
		return Result{}, err
	}
	name := filepath.Base(t.Conf)
	if !changed {
		return Result{Msg: fmt.Sprintf("haproxy already serves %s", name)}, nil
	}
	good := t.Conf + goodSuffix
	if err := haproxy.Wait(ctx, t.MasterSocket, 5*time.Second); err != nil {
		return Result{}, fmt.Errorf("haproxy_reload: %w: is the proxy running? run provision", err)
	}
	if err := haproxy.Wait(ctx, t.Socket, 5*time.Second); err != nil {
		return Result{}, fmt.Errorf("haproxy_reload: %w: is the proxy running? run provision", err)
	}
	proc, err := haproxyCommand(ctx, t.MasterSocket, "show proc")
	if err != nil {
		return Result{}, fmt.Errorf("haproxy_reload: %w: is the proxy running? run provision", err)
	}
	if _, err := os.Stat(good); errors.Is(err, os.ErrNotExist) {
		if st, err := os.Stat(t.Conf); err == nil && workerYounger(proc, time.Since(st.ModTime())) {
			if err := writeAtomic(good, data, 0o644); err != nil {
				return Result{}, fmt.Errorf("haproxy_reload: %w", err)
			}
			return Result{Msg: fmt.Sprintf("haproxy started with %s: no reload", name)}, nil
		}
	}
	c := &haproxy.Client{Socket: t.Socket}
	state, err := c.Command(ctx, "show servers state")
	if err != nil {
		return Result{}, fmt.Errorf("haproxy_reload: saving the servers' state: %w", err)
	}
	if err := writeAtomic(filepath.Join(filepath.Dir(t.Socket), "servers.state"), []byte(state), 0o644); err != nil {
		return Result{}, fmt.Errorf("haproxy_reload: saving the servers' state: %w", err)
	}
	start := time.Now()
	if err := haproxy.Reload(ctx, t.MasterSocket); err != nil {
		if prev, rerr := os.ReadFile(good); rerr == nil {
			_ = os.WriteFile(t.Conf, prev, 0o644)
			return Result{}, fmt.Errorf("haproxy_reload: %w; restored the last good %s from %s: fix the template or its variables and run again", err, name, good)
		}
		return Result{}, fmt.Errorf("haproxy_reload: %w", err)
	}
	if err := writeAtomic(good, data, 0o644); err != nil {
		return Result{Changed: true}, fmt.Errorf("haproxy_reload: reloaded, but saving %s failed: %w", good, err)
	}
	return Result{Changed: true, Msg: fmt.Sprintf("reloaded haproxy with %s (new worker after %s)", name, time.Since(start).Round(time.Millisecond))}, nil
}

func haproxyCommand(ctx context.Context, socket, cmd string) (string, error) {
	c := &haproxy.Client{Socket: socket}
	return c.Command(ctx, cmd)
}

// workerYounger reports whether the newest worker in `show proc` has run for
// less than age (so it read a file written age ago).
func workerYounger(showProc string, age time.Duration) bool {
	inWorkers := false
	for _, l := range strings.Split(showProc, "\n") {
		if strings.HasPrefix(l, "# workers") {
			inWorkers = true
			continue
		}
		if strings.HasPrefix(l, "#") {
			inWorkers = false
			continue
		}
		f := strings.Fields(l)
		if !inWorkers || len(f) < 4 {
			continue
		}
		// Uptime is in whole seconds: a worker that may predate the file
		// is not counted (a needless seamless reload is harmless).
		if up, ok := parseUptime(f[3]); ok && up+time.Second <= age {
			return true
		}
	}
	return false
}

// parseUptime reads HAProxy's "0d00h01m02s".
func parseUptime(s string) (time.Duration, bool) {
	var d, h, m, sec int
	if _, err := fmt.Sscanf(s, "%dd%02dh%02dm%02ds", &d, &h, &m, &sec); err != nil {
		return 0, false
	}
	return time.Duration(((d*24+h)*60+m)*60+sec) * time.Second, true
}
