// Package proxy is the proxy in front of a rollout's replicas, behind one
// interface, so that the rollout does not know which one it drives: nginx
// (its conf names the replicas; every change is rendered, tested with
// `nginx -t` and reloaded) and HAProxy (its configuration names no replica;
// server-template slots are set over the runtime API, and a reload happens
// only when haproxy.cfg itself changes). The task kind `proxy` (tasks/proxy.go)
// is its only user in the playbooks.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
)

// Server is one replica of the upstream: its name, its address on the
// project's network, and whether it is to be out of service (drained, or
// not healthy yet).
type Server struct {
	Name, Address string
	Down          bool
}

// Step is what one call did, for the task's recap line.
type Step struct {
	Changed bool
	Msg     string
}

// Proxy is what a rollout needs of its proxy.
type Proxy interface {
	// Setup prepares what the proxy reads before it first starts (its
	// directories; HAProxy's haproxy.cfg, rendered, and reloaded when a
	// running proxy serves an older one).
	Setup(ctx context.Context) (Step, error)
	// Render writes the configuration for upstream where the proxy reads
	// it; Changed when its bytes differ from the file's.
	Render(upstream []Server) (Step, error)
	// Validate has the proxy's own binary test the rendered configuration
	// in its container. A rejected configuration is replaced by the last
	// good one (PATH.good), and the error says so: the proxy keeps serving.
	Validate(ctx context.Context) error
	// Reload makes the running proxy serve the rendered configuration when
	// it differs from the last good copy; with waitOld it returns only once
	// no process still running an older one remains.
	Reload(ctx context.Context, waitOld bool) (Step, error)
	// Drain takes upstream's down servers out of service and returns once
	// nothing runs on them any more (and puts its other servers in).
	Drain(ctx context.Context, upstream []Server) (Step, error)
	// Undrain puts upstream's servers that are not down in service and
	// returns once they take traffic. settle: every server was out (a
	// heal), so wait as a drain does before the next step counts on them.
	Undrain(ctx context.Context, upstream []Server, settle bool) (Step, error)
	// Plan says what Drain or Undrain would do for upstream, changing
	// nothing (--check).
	Plan(ctx context.Context, upstream []Server) (Step, error)
}

// Container is the running proxy's container, as the proxies need it.
type Container interface {
	Exec(ctx context.Context, cmd ...string) (rc int, stdout, stderr string, err error)
	Processes(ctx context.Context) ([]docker.Process, error)
}

// Template renders a proxy's configuration for upstream.
type Template func(upstream []Server) ([]byte, error)

// Common is what both proxies are given.
type Common struct {
	// Template renders the configuration file.
	Template Template
	// Container finds the running proxy (nil: not running), only when a
	// step needs it.
	Container func(ctx context.Context) (Container, error)
	// Progress reports a live step; may be nil.
	Progress func(format string, args ...any)
	// Stage, when set, makes Render record what it would write instead of
	// writing it (--check); Read then reads through it.
	Stage func(path string, data []byte)
	Read  func(path string) ([]byte, error)
}

func (c *Common) progressf(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(format, args...)
	}
}

func (c *Common) read(path string) ([]byte, error) {
	if c.Read != nil {
		return c.Read(path)
	}
	return os.ReadFile(path)
}

// GoodSuffix names the copy of the last configuration the proxy accepted.
const GoodSuffix = ".good"

// pending reads path and tells whether it differs from its last good copy.
func (c *Common) pending(path string) ([]byte, bool, error) {
	data, err := c.read(path)
	if err != nil {
		return nil, false, err
	}
	good, err := os.ReadFile(path + GoodSuffix)
	return data, err != nil || string(data) != string(good), nil
}

// restoreGood puts the last good copy back over a rejected path and words
// the error: what was rejected, that the proxy keeps serving, what to do.
func restoreGood(proxy, path, msg string) error {
	good := path + GoodSuffix
	prev, rerr := os.ReadFile(good)
	switch {
	case rerr == nil:
		// In place (not a rename): path may itself be a bind-mounted file.
		if werr := os.WriteFile(path, prev, 0o644); werr != nil {
			return fmt.Errorf("%s rejected %s:\n%s\nand restoring the last good copy %s failed: %v; %s keeps serving its current configuration: fix %s by hand",
				proxy, path, indent(msg), good, werr, proxy, path)
		}
		return fmt.Errorf("%s rejected %s (nothing reloaded, %s keeps serving its current configuration):\n%s\n"+
			"  restored the last good %s from %s; fix the template or its variables and run again", proxy, path, proxy, indent(msg), filepath.Base(path), good)
	case errors.Is(rerr, fs.ErrNotExist):
		return fmt.Errorf("%s rejected %s (nothing reloaded, %s keeps serving its current configuration):\n%s\n"+
			"  there is no last good copy (%s) to restore, so %s is left as is; fix the template or its variables and run again", proxy, path, proxy, indent(msg), good, filepath.Base(path))
	default:
		return fmt.Errorf("%s rejected %s:\n%s\nand reading the last good copy failed: %v", proxy, path, indent(msg), rerr)
	}
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

// tail is the end of a command's output, for an error.
func tail(stderr, stdout string) string {
	s := strings.TrimSpace(stderr + "\n" + stdout)
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// downNames lists upstream's down servers, for a recap line.
func downNames(upstream []Server) string {
	var names []string
	for _, s := range upstream {
		if s.Down {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return "none down"
	}
	return strings.Join(names, ", ") + " down"
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
