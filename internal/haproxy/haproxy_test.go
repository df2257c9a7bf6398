package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// haproxyCmd runs the binary of the haproxy image's staged root filesystem
// (make images) on the host, with the libraries staged beside it. Not
// through the staged loader: the master re-executes itself (its
// /proc/self/exe) once the worker runs, so the environment must carry the
// library path. The host's loader is bookworm's too.
func haproxyCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the staged haproxy is run with the x86-64 loader only")
	}
	root, err := filepath.Abs("../../.cache/images/ctx/haproxy/rootfs")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "usr/sbin/haproxy")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no staged haproxy at %s (run `make images` to stage it): %v", root, err)
	}
	if _, err := os.Stat("/lib64/ld-linux-x86-64.so.2"); err != nil {
		t.Skipf("no x86-64 loader on the host to run the staged haproxy: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(root, "lib/x86_64-linux-gnu")+":"+filepath.Join(root, "usr/lib/x86_64-linux-gnu"))
	return cmd
}

// startHaproxy runs a master-worker haproxy with three server-template
// slots checked on /ping, and returns its admin client, master socket and
// frontend address.
func startHaproxy(t *testing.T) (*Client, string, string) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`global
    stats socket %[1]s/admin.sock mode 660 level admin expose-fd listeners
    server-state-file %[1]s/servers.state
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    load-server-state-from-file global
frontend web
    bind %[2]s
    default_backend app
backend app
    option httpchk GET /ping
    server-template app 1-3 slot.invalid:3000 check inter 100ms init-addr last,0.0.0.0 disabled
`, dir, front)
	conf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := haproxyCmd(t, "-W", "-db", "-S", dir+"/master.sock", "-f", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := &Client{Socket: dir + "/admin.sock"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Command(context.Background(), "show info")
		if err == nil {
			_, err = command(context.Background(), dir+"/master.sock", "show proc")
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy never answered on %s: %v", c.Socket, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, dir + "/master.sock", front
}

func server(t *testing.T, c *Client, name string) Server {
	t.Helper()
	ss, err := c.Servers(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no server %s in %+v", name, ss)
	return Server{}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSlotLifecycle(t *testing.T) {
	c, master, front := startHaproxy(t)
	ctx := context.Background()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "app@test") }))
	defer app.Close()
	host, portStr, _ := net.SplitHostPort(app.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	ss, err := c.Servers(ctx, "app")
	if err != nil || len(ss) != 3 {
		t.Fatalf("servers: %+v, %v", ss, err)
	}
	if s := ss[0]; s.HasAddr() || !s.Maint() {
		t.Fatalf("a slot with init-addr none: %+v, want maint without address (disabled)", s)
	}

	if err := c.SetAddr(ctx, "app", "app1", host, port); err != nil {
		t.Fatal(err)
	}
	if err := c.SetState(ctx, "app", "app1", "ready"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "app1 up", func() bool { s := server(t, c, "app1"); return s.Up() && s.Ready() })
	if s := server(t, c, "app1"); s.Addr != host || s.Port != port {
		t.Fatalf("app1 = %+v, want %s:%d", s, host, port)
	}
	resp, err := http.Get("http://" + front + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET through haproxy: %v %v", resp, err)
	}
	resp.Body.Close()

	if err := c.SetState(ctx, "app", "app1", "drain"); err != nil {
		t.Fatal(err)
	}
	if s := server(t, c, "app1"); !s.Drain() || s.Maint() {
		t.Fatalf("drained app1 = %+v", s)
	}
	if err := c.SetState(ctx, "app", "app1", "maint"); err != nil {
		t.Fatal(err)
	}
	if s := server(t, c, "app1"); !s.Maint() {
		t.Fatalf("app1 in maint = %+v", s)
	}
	if err := c.SetHealth(ctx, "app", "app2", false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetHealth(ctx, "app", "app2", true); err != nil {
		t.Fatal(err)
	}
	if err := c.SetState(ctx, "app", "nosuch", "ready"); err == nil {
		t.Fatal("set server on an unknown server: no error")
	}

	// A seamless reload keeps the slots' addresses (server-state-file).
	if err := c.SetState(ctx, "app", "app1", "ready"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "app1 up", func() bool { return server(t, c, "app1").Up() })
	state, err := c.Command(ctx, "show servers state")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(master), "servers.state"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := Reload(rctx, master); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "app1 up after the reload", func() bool {
		ss, err := c.Servers(ctx, "app")
		return err == nil && ss[0].Up() && ss[0].Addr == host
	})
}

func TestNoSocket(t *testing.T) {
	c := &Client{Socket: filepath.Join(t.TempDir(), "admin.sock")}
	if _, err := c.Servers(context.Background(), "app"); err == nil || !errorsIs(err) {
		t.Fatalf("err = %v, want ErrNoSocket", err)
	}
}

func errorsIs(err error) bool { return err != nil && errors.Is(err, ErrNoSocket) }

// A socket that resets its first connections unanswered (a master still
// starting) is waited for, not an error; one that never answers is, once
// the timeout passed.
func TestWaitRetriesResetConnections(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "master.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for i := 0; ; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if i >= 2 {
				_, _ = io.ReadAll(c) // the command, up to the client's CloseWrite
				_, _ = c.Write([]byte("Name: HAProxy\n"))
			}
			// The first two: closed with the command unread, which the
			// client sees as a reset (or a broken pipe), as the
			// starting master's.
			c.Close()
		}
	}()
	if err := Wait(context.Background(), sock, 5*time.Second); err != nil {
		t.Fatalf("Wait: %v, want it to retry until the socket answers", err)
	}

	gone := filepath.Join(t.TempDir(), "none.sock")
	start := time.Now()
	if err := Wait(context.Background(), gone, 200*time.Millisecond); !errors.Is(err, ErrNoSocket) {
		t.Fatalf("Wait on a missing socket: %v, want ErrNoSocket", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("Wait gave up after %s, before its timeout", took)
	}
}
