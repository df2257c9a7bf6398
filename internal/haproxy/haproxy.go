// Package haproxy is a small client of HAProxy's runtime API (the stats
// socket at level admin) and of its master CLI, over unix sockets. Each
// command is one connection: HAProxy answers and closes.
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Client talks to one HAProxy's admin socket.
type Client struct {
	Socket string // host path of the stats socket (level admin)
}

// ErrNoSocket is returned when the socket does not exist or nothing listens.
var ErrNoSocket = errors.New("haproxy socket not answering")

// Command sends one runtime-API command and returns the answer.
func (c *Client) Command(ctx context.Context, cmd string) (string, error) {
	return command(ctx, c.Socket, cmd)
}

func command(ctx context.Context, socket, cmd string) (string, error) {
	if _, err := os.Stat(socket); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s does not exist", ErrNoSocket, socket)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoSocket, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("haproxy %q: %w", cmd, err)
	}
	// The master CLI waits for more commands until the client is done.
	_ = conn.(*net.UnixConn).CloseWrite()
	out, err := io.ReadAll(conn)
	if err != nil {
		return string(out), fmt.Errorf("haproxy %q: %w", cmd, err)
	}
	return string(out), nil
}

// Do sends a command that answers nothing on success (set server ...):
// any answer is HAProxy's error message.
func (c *Client) Do(ctx context.Context, cmd string) error {
	out, err := c.Command(ctx, cmd)
	if err != nil {
		return err
	}
	if msg := strings.TrimSpace(out); msg != "" && !strings.HasPrefix(msg, "IP changed from") && !strings.HasPrefix(msg, "no need to change") {
		return fmt.Errorf("haproxy %q: %s", cmd, msg)
	}
	return nil
}

// Server is one server of `show servers state` and `show stat`.
type Server struct {
	Backend string
	Name    string
	Addr    string // "0.0.0.0" or "-" when it has none (init-addr none)
	Port    int
	// OpState is srv_op_state: 0 stopped (down or maint), 1 starting,
	// 2 running, 3 stopping (going down).
	OpState int
	// Admin is srv_admin_state, a bit field: 0x01 forced maint, 0x02
	// inherited maint, 0x04 `disabled` in the configuration (kept once it
	// left maint), 0x08 forced drain, 0x10 inherited drain, 0x20 maint for
	// want of an address.
	Admin int
	// Sessions is the current sessions (scur of `show stat`) when read by
	// Servers.
	Sessions int
}

// Maint reports whether the server is in maintenance (forced, inherited or
// for want of an address).
func (s Server) Maint() bool { return s.Admin&0x23 != 0 }

// Drain reports whether the server is drained (forced).
func (s Server) Drain() bool { return s.Admin&0x08 != 0 }

// Ready: neither in maintenance nor drained.
func (s Server) Ready() bool { return !s.Maint() && !s.Drain() }

// Up: its checks pass (or it has none) and it takes traffic if ready.
func (s Server) Up() bool { return s.OpState == 2 }

// HasAddr: it was given an address.
func (s Server) HasAddr() bool { return s.Addr != "" && s.Addr != "0.0.0.0" && s.Addr != "-" }

// Servers returns the servers of backend, in their configured order, with
// their current sessions.
func (c *Client) Servers(ctx context.Context, backend string) ([]Server, error) {
	out, err := c.Command(ctx, "show servers state "+backend)
	if err != nil {
		return nil, err
	}
	servers, err := ParseServersState(out)
	if err != nil {
		return nil, err
	}
	stat, err := c.Command(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	scur := parseStatSessions(stat, backend)
	for i := range servers {
		servers[i].Sessions = scur[servers[i].Name]
	}
	return servers, nil
}

// ParseServersState reads `show servers state` (format 1).
func ParseServersState(out string) ([]Server, error) {
	var servers []Server
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "1" {
		return nil, fmt.Errorf("haproxy: unexpected answer to show servers state: %q", firstLine(out))
	}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.Fields(l)
		// be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state
		// srv_uweight srv_iweight srv_time_since_last_change srv_check_status
		// srv_check_result srv_check_health srv_check_state srv_agent_state
		// bk_f_forced_id srv_f_forced_id srv_fqdn srv_port ...
		if len(f) < 19 {
			return nil, fmt.Errorf("haproxy: short line in show servers state: %q", l)
		}
		op, _ := strconv.Atoi(f[5])
		admin, _ := strconv.Atoi(f[6])
		port, _ := strconv.Atoi(f[18])
		servers = append(servers, Server{Backend: f[1], Name: f[3], Addr: f[4], OpState: op, Admin: admin, Port: port})
	}
	return servers, nil
}

// parseStatSessions maps each server of backend to its scur in `show stat`
// (CSV: pxname,svname,qcur,qmax,scur,...).
func parseStatSessions(out, backend string) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(l, ",")
		if len(f) < 5 || f[0] != backend || f[1] == "BACKEND" || f[1] == "FRONTEND" {
			continue
		}
		n, _ := strconv.Atoi(f[4])
		m[f[1]] = n
	}
	return m
}

// SetAddr gives a server its address and port.
func (c *Client) SetAddr(ctx context.Context, backend, server, addr string, port int) error {
	return c.Do(ctx, fmt.Sprintf("set server %s/%s addr %s port %d", backend, server, addr, port))
}

// SetState sets a server's admin state: ready, drain or maint.
func (c *Client) SetState(ctx context.Context, backend, server, state string) error {
	return c.Do(ctx, fmt.Sprintf("set server %s/%s state %s", backend, server, state))
}

// SetHealth enables or disables a server's active checks.
func (c *Client) SetHealth(ctx context.Context, backend, server string, on bool) error {
	verb := "disable"
	if on {
		verb = "enable"
	}
	return c.Do(ctx, fmt.Sprintf("%s health %s/%s", verb, backend, server))
}

// Reload asks the master (its CLI socket) to reload: a new worker reads the
// configuration, takes the listeners over (expose-fd listeners) and the old
// one finishes its connections. It returns once a worker newer than the
// ones before runs, or fails with the master's view.
func Reload(ctx context.Context, masterSocket string) error {
	before, err := command(ctx, masterSocket, "show proc")
	if err != nil {
		return err
	}
	reloads := masterReloads(before)
	// The master re-executes itself to reload: the connection may be cut
	// before it answers (a reset, not an EOF). Whether the reload happened
	// is read from show proc below, not from this answer.
	if _, err := command(ctx, masterSocket, "reload"); errors.Is(err, ErrNoSocket) {
		return err
	}
	for {
		time.Sleep(100 * time.Millisecond)
		now, err := command(ctx, masterSocket, "show proc")
		if err == nil && masterReloads(now) > reloads && strings.Contains(now, "worker") {
			if strings.Contains(firstMaster(now), "failed: ") && failedCount(now) > failedCount(before) {
				return fmt.Errorf("haproxy reload failed (the previous worker keeps serving): see `docker logs` of the proxy")
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("haproxy reload: no new worker: %w", ctx.Err())
		}
	}
}

func firstMaster(showProc string) string {
	for _, l := range strings.Split(showProc, "\n") {
		if strings.Contains(l, "master") {
			return l
		}
	}
	return ""
}

// masterReloads reads the master's reload count in `show proc`.
func masterReloads(showProc string) int {
	f := strings.Fields(firstMaster(showProc))
	if len(f) < 3 {
		return -1
	}
	n, _ := strconv.Atoi(f[2])
	return n
}

func failedCount(showProc string) int {
	l := firstMaster(showProc)
	i := strings.Index(l, "failed: ")
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimRight(strings.Fields(l[i+len("failed: "):])[0], "]"))
	return n
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Wait retries `show info` on socket until it answers or timeout passes,
// then returns the last error: a proxy just started binds its sockets a
// moment later, and its master, still starting, may accept a connection on
// the master CLI and reset it unanswered (seen right after `compose up`).
func Wait(ctx context.Context, socket string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := command(ctx, socket, "show info")
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
