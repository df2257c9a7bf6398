package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/errtest"
	"github.com/zdplay/zdplay/internal/haproxy"
)

func TestHaproxyPlan(t *testing.T) {
	const maint, ready = 0x05, 0x04 // disabled in the conf; forced maint or not
	have := []haproxy.Server{
		{Name: "app1", Addr: "10.0.0.1", Port: 3000, OpState: 2, Admin: ready},
		{Name: "app2", Addr: "10.0.0.2", Port: 3000, OpState: 2, Admin: ready},
		{Name: "app3", Addr: "10.0.0.9", Port: 3000, OpState: 2, Admin: ready},
		{Name: "app4", Addr: "0.0.0.0", Port: 3000, Admin: maint},
	}
	slots := map[string]string{"app_1": "app1", "app_2": "app2", "app_9": "app3"}
	want := []Server{
		{Name: "app_1", Address: "10.0.0.1"},             // unchanged
		{Name: "app_2", Address: "10.0.0.2", Down: true}, // to drain
		{Name: "app_3", Address: "10.0.0.3"},             // new: a free slot
	}
	h := &Haproxy{Port: 3000}
	in, out, keep, err := h.plan(have, want, slots)
	if err != nil {
		t.Fatal(err)
	}
	if got := stepsString(in); got != "app_3 (app4) at 10.0.0.3 ready" {
		t.Errorf("in: %q", got)
	}
	if got := stepsString(out); got != "app_2 (app2) drained, maint; app_9 (app3) maint" {
		t.Errorf("out: %q", got)
	}
	if len(keep) != 3 || keep["app_1"] != "app1" || keep["app_2"] != "app2" || keep["app_3"] != "app4" {
		t.Errorf("slots kept: %v", keep)
	}

	// Converged: nothing to do.
	have[1].Admin, have[2].Admin = maint, maint
	have[3] = haproxy.Server{Name: "app4", Addr: "10.0.0.3", Port: 3000, OpState: 2, Admin: ready}
	if in, out, _, _ := h.plan(have, want, keep); len(in)+len(out) != 0 {
		t.Errorf("converged: in %v, out %v", in, out)
	}

	// A recreated replica with a new address in its old slot.
	want[0].Address = "10.0.0.7"
	if in, _, _, _ := h.plan(have, want, keep); stepsString(in) != "app_1 (app1) at 10.0.0.7 ready" {
		t.Errorf("new address: %q", stepsString(in))
	}

	// More replicas than slots.
	many := append(want, Server{Name: "app_5", Address: "10.0.0.5"}, Server{Name: "app_6", Address: "10.0.0.6"})
	if _, _, _, err := h.plan(have, many, keep); err == nil || !strings.Contains(err.Error(), "raise the slots variable") {
		t.Errorf("too many replicas: err = %v", err)
	}
}

// fakeRuntime answers the runtime-API commands Haproxy sends, on a unix
// socket, over a backend "app" of slots: set server addr/state, show
// servers state, show stat. A drained slot's sessions go down by one per
// show stat; a readied one is up at once.
type fakeRuntime struct {
	mu       sync.Mutex
	slots    map[string]*fakeSlot
	commands []string
}

type fakeSlot struct {
	addr          string
	port, admin   int
	op, sessions  int
	stuckSessions bool
}

func startRuntime(t *testing.T, dir string, n int) *fakeRuntime {
	t.Helper()
	f := &fakeRuntime{slots: map[string]*fakeSlot{}}
	for i := 1; i <= n; i++ {
		f.slots[fmt.Sprintf("app%d", i)] = &fakeSlot{addr: "0.0.0.0", port: 3000, admin: 0x05}
	}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "run", "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(conn).ReadString('\n')
			fmt.Fprint(conn, f.answer(strings.TrimSpace(line)))
			conn.Close()
		}
	}()
	return f
}

func (f *fakeRuntime) answer(cmd string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for name := range f.slots {
		names = append(names, name)
	}
	sort.Strings(names)
	switch {
	case cmd == "show info":
		return "Name: HAProxy\n"
	case strings.HasPrefix(cmd, "show servers state"):
		var b strings.Builder
		b.WriteString("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n")
		for i, name := range names {
			s := f.slots[name]
			fmt.Fprintf(&b, "3 app %d %s %s %d %d 1 1 10 6 3 4 6 0 0 0 - %d -\n", i+1, name, s.addr, s.op, s.admin, s.port)
		}
		return b.String()
	case cmd == "show stat":
		var b strings.Builder
		b.WriteString("# pxname,svname,qcur,qmax,scur,smax\n")
		for _, name := range names {
			s := f.slots[name]
			fmt.Fprintf(&b, "app,%s,0,0,%d,0\n", name, s.sessions)
			if s.sessions > 0 && !s.stuckSessions && s.admin&0x08 != 0 {
				s.sessions--
			}
		}
		return b.String()
	}
	f.commands = append(f.commands, cmd)
	var name, rest string
	if _, err := fmt.Sscanf(cmd, "set server app/%s", &name); err != nil {
		return "Unknown command.\n"
	}
	rest = strings.TrimPrefix(cmd, "set server app/"+name+" ")
	s, ok := f.slots[name]
	if !ok {
		return "No such server.\n"
	}
	switch {
	case strings.HasPrefix(rest, "addr "):
		fmt.Sscanf(rest, "addr %s port %d", &s.addr, &s.port)
	case rest == "state ready":
		s.admin &^= 0x09
		s.op = 2
	case rest == "state drain":
		s.admin |= 0x08
	case rest == "state maint":
		s.admin |= 0x01
		s.op = 0
	default:
		return "unknown\n"
	}
	return ""
}

func (f *fakeRuntime) set(name string, fn func(*fakeSlot)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.slots[name])
}

func (f *fakeRuntime) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.commands
	f.commands = nil
	return c
}

// The slots follow the upstream over the runtime API: in (address, ready,
// up), then out (drain, maint once the sessions are 0), kept in
// zdplay-slots.json and servers.state; a converged upstream sends nothing.
func TestHaproxyDrainUndrain(t *testing.T) {
	dir := t.TempDir()
	f := startRuntime(t, dir, 3)
	h := &Haproxy{Dir: dir, Port: 3000, DrainTimeout: time.Second, Poll: time.Millisecond}
	ctx := context.Background()
	up := []Server{{Name: "app_1", Address: "10.0.0.1"}, {Name: "app_2", Address: "10.0.0.2"}}
	s, err := h.Undrain(ctx, up, false)
	if err != nil || !s.Changed || !strings.Contains(s.Msg, "app_1 (app1) at 10.0.0.1 ready; app_2 (app2) at 10.0.0.2 ready (up after") {
		t.Fatalf("undrain: %+v %v", s, err)
	}
	if got := strings.Join(f.take(), ","); got != "set server app/app1 state maint,set server app/app1 addr 10.0.0.1 port 3000,set server app/app1 state ready,"+
		"set server app/app2 state maint,set server app/app2 addr 10.0.0.2 port 3000,set server app/app2 state ready" {
		t.Errorf("commands: %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "run", "zdplay-slots.json")); !strings.Contains(string(b), `"app_1": "app1"`) {
		t.Errorf("slots file: %s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "run", "servers.state")); !strings.Contains(string(b), "app1 10.0.0.1 2 4") {
		t.Errorf("servers.state: %s", b)
	}

	// app_1 drained with 3 sessions in flight: maint only once they are 0.
	f.set("app1", func(s *fakeSlot) { s.sessions = 3 })
	up[0].Down = true
	if p, err := h.Plan(ctx, up); err != nil || p.Msg != "would set app_1 (app1) drained, maint" {
		t.Fatalf("plan: %+v %v", p, err)
	}
	s, err = h.Drain(ctx, up)
	if err != nil || s.Msg != "" && !strings.HasPrefix(s.Msg, "app_1 (app1) drained, maint (drained 3 session(s), 0 after") {
		t.Fatalf("drain: %+v %v", s, err)
	}
	if got := strings.Join(f.take(), ","); got != "set server app/app1 state drain,set server app/app1 state maint" {
		t.Errorf("commands: %s", got)
	}
	if s, err := h.Drain(ctx, up); err != nil || s.Changed || len(f.take()) != 0 {
		t.Errorf("converged drain: %+v %v", s, err)
	}

	// A session that never ends: the drain fails past drain_timeout, the
	// server stays drained (not maint), and the error says what to do.
	up[0].Down = false
	if _, err := h.Undrain(ctx, up, false); err != nil {
		t.Fatal(err)
	}
	f.take()
	f.set("app2", func(s *fakeSlot) { s.sessions, s.stuckSessions = 1, true })
	h.DrainTimeout = 30 * time.Millisecond
	_, err = h.Drain(ctx, []Server{{Name: "app_1", Address: "10.0.0.1"}, {Name: "app_2", Address: "10.0.0.2", Down: true}})
	errtest.Says(t, err, "app_2 (app2, 1 sessions) not without sessions after 30ms", "raise drain_timeout")
	if got := strings.Join(f.take(), ","); got != "set server app/app2 state drain" {
		t.Errorf("commands: %s", got)
	}
}

func TestHaproxyNoSocket(t *testing.T) {
	h := &Haproxy{Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := h.Drain(ctx, nil)
	errtest.Says(t, err, "is the proxy running? run provision")
}

// fakeHaproxyCtr answers `haproxy -c` with rc.
type fakeHaproxyCtr struct{ rc int }

func (f fakeHaproxyCtr) Exec(_ context.Context, cmd ...string) (int, string, string, error) {
	if strings.Join(cmd, " ") != "/usr/sbin/haproxy -c -q -f /etc/haproxy/haproxy.cfg" {
		return 127, "", "unexpected " + strings.Join(cmd, " "), nil
	}
	if f.rc != 0 {
		return f.rc, "", "[ALERT] config : parsing [/etc/haproxy/haproxy.cfg:3] : unknown keyword 'bogus'\n", nil
	}
	return 0, "", "", nil
}

func (fakeHaproxyCtr) Processes(context.Context) ([]docker.Process, error) { return nil, nil }

// Setup renders haproxy.cfg; a proxy not running starts with it; one that
// runs and rejects a new one keeps serving the last good one, restored.
func TestHaproxySetup(t *testing.T) {
	dir := t.TempDir()
	cfg := "global\n"
	var ctr Container
	h := &Haproxy{Dir: dir, Common: Common{
		Template:  func([]Server) ([]byte, error) { return []byte(cfg), nil },
		Container: func(context.Context) (Container, error) { return ctr, nil },
	}}
	ctx := context.Background()

	// --check: says what it would do, writes nothing.
	staged := map[string]string{}
	h.Stage = func(path string, data []byte) { staged[path] = string(data) }
	s, err := h.Setup(ctx)
	if err != nil || !s.Changed || !strings.HasPrefix(s.Msg, "would create ") || !strings.Contains(s.Msg, "would render haproxy.cfg") {
		t.Fatalf("check: %+v %v", s, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 || staged[filepath.Join(dir, "haproxy.cfg")] != cfg {
		t.Fatalf("check wrote %v, staged %v", entries, staged)
	}
	h.Stage = nil

	s, err = h.Setup(ctx)
	if err != nil || !s.Changed || s.Msg != "created "+filepath.Join(dir, "run")+"; rendered haproxy.cfg; haproxy not running: it starts with haproxy.cfg" {
		t.Fatalf("setup: %+v %v", s, err)
	}
	if s, err := h.Setup(ctx); err != nil || s.Changed || s.Msg != "haproxy already serves haproxy.cfg" {
		t.Fatalf("second setup: %+v %v", s, err)
	}
	cfg, ctr = "global\n    bogus\n", fakeHaproxyCtr{rc: 1}
	_, err = h.Setup(ctx)
	errtest.Says(t, err, "unknown keyword 'bogus'", "restored the last good haproxy.cfg", "keeps serving")
	if b, _ := os.ReadFile(filepath.Join(dir, "haproxy.cfg")); string(b) != "global\n" {
		t.Errorf("haproxy.cfg = %q, want the good one", b)
	}
}
