package proxy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/errtest"
)

// fakeNginx plays nginx's side: -t answers testRC, and the process list
// goes through lists, the last one repeating.
type fakeNginx struct {
	testRC, reloadRC int
	lists            [][]docker.Process
	calls            []string
}

func (f *fakeNginx) Exec(_ context.Context, cmd ...string) (int, string, string, error) {
	f.calls = append(f.calls, strings.Join(cmd, " "))
	switch strings.Join(cmd, " ") {
	case "nginx -t":
		if f.testRC != 0 {
			return f.testRC, "", "nginx: [emerg] unknown directive \"bogus\" in /etc/nginx/conf.d/default.conf:1\nnginx: configuration file /etc/nginx/nginx.conf test failed\n", nil
		}
		return 0, "", "nginx: configuration file /etc/nginx/nginx.conf test is successful\n", nil
	case "nginx -s reload":
		return f.reloadRC, "", "", nil
	}
	return 127, "", "no such command", nil
}

func (f *fakeNginx) Processes(context.Context) ([]docker.Process, error) {
	f.calls = append(f.calls, "top")
	l := f.lists[0]
	if len(f.lists) > 1 {
		f.lists = f.lists[1:]
	}
	return l, nil
}

func procs(workers ...string) []docker.Process {
	ps := []docker.Process{{PID: "1", Cmd: "nginx: master process /usr/sbin/nginx"}}
	for _, w := range workers {
		cmd := "nginx: worker process"
		if strings.HasSuffix(w, "!") {
			w, cmd = strings.TrimSuffix(w, "!"), "nginx: worker process is shutting down"
		}
		ps = append(ps, docker.Process{PID: w, PPID: "1", Cmd: cmd})
	}
	return ps
}

// testNginx is an Nginx over f whose template lists upstream one server a
// line ("app_1 10.0.0.1 down").
func testNginx(t *testing.T, f *fakeNginx) *Nginx {
	t.Helper()
	return &Nginx{
		Common: Common{
			Template: func(up []Server) ([]byte, error) {
				var b strings.Builder
				for _, s := range up {
					fmt.Fprintf(&b, "%s %s %v\n", s.Name, s.Address, s.Down)
				}
				return []byte(b.String()), nil
			},
			Container: func(context.Context) (Container, error) { return f, nil },
		},
		Conf:    filepath.Join(t.TempDir(), "nginx", "default.conf"),
		Timeout: time.Second, Poll: time.Millisecond,
	}
}

func workersGoing() [][]docker.Process {
	return [][]docker.Process{
		procs("7"),       // before the reload
		procs("7!"),      // reload signalled, no new worker yet
		procs("7!", "8"), // new worker, old one finishing a request
		procs("7!", "8"), //
		procs("8"),       // old one gone
	}
}

// A drain renders, tests, reloads and returns once the old workers are
// gone; an undrain returns once a new worker runs; the same upstream again
// changes nothing.
func TestNginxDrainUndrain(t *testing.T) {
	up := []Server{{Name: "app_1", Address: "10.0.0.1", Down: true}, {Name: "app_2", Address: "10.0.0.2"}}
	for _, c := range []struct {
		drain bool
		msg   string
		calls string
	}{
		{true, "old workers gone after", "nginx -t,top,nginx -s reload,top,top,top,top"},
		{false, "new workers up after", "nginx -t,top,nginx -s reload,top,top"},
	} {
		f := &fakeNginx{lists: workersGoing()}
		n := testNginx(t, f)
		var s Step
		var err error
		if c.drain {
			s, err = n.Drain(context.Background(), up)
		} else {
			s, err = n.Undrain(context.Background(), up, false)
		}
		if err != nil || !s.Changed || !strings.Contains(s.Msg, c.msg) || !strings.HasPrefix(s.Msg, "rendered default.conf (app_1 down); validated, reloaded nginx") {
			t.Fatalf("drain=%v: %+v %v", c.drain, s, err)
		}
		if got := strings.Join(f.calls, ","); got != c.calls {
			t.Errorf("drain=%v: calls %s", c.drain, got)
		}
		want := "app_1 10.0.0.1 true\napp_2 10.0.0.2 false\n"
		if b, _ := os.ReadFile(n.Conf); string(b) != want {
			t.Errorf("conf = %q", b)
		}
		if good, _ := os.ReadFile(n.Conf + GoodSuffix); string(good) != want {
			t.Errorf(".good = %q", good)
		}
		// Converged: nothing rendered, nothing reloaded.
		f.calls = nil
		if s, err := n.Drain(context.Background(), up); err != nil || s.Changed || s.Msg != "nginx already serves default.conf" || len(f.calls) != 0 {
			t.Errorf("again: %+v %v, calls %v", s, err, f.calls)
		}
		if s, _ := n.Plan(context.Background(), up); s.Changed {
			t.Errorf("plan when converged: %+v", s)
		}
		if s, _ := n.Plan(context.Background(), up[1:]); !s.Changed || !strings.Contains(s.Msg, "would render default.conf (none down)") {
			t.Errorf("plan of a change: %+v", s)
		}
	}
}

func TestNginxReloadTimesOutOnAStuckWorker(t *testing.T) {
	f := &fakeNginx{lists: [][]docker.Process{procs("7"), procs("7!", "8")}}
	n := testNginx(t, f)
	n.Timeout = 50 * time.Millisecond
	s, err := n.Drain(context.Background(), []Server{{Name: "app_1", Address: "10.0.0.1"}})
	errtest.Says(t, err, "1 old worker process(es) (pid 7) still run after 50ms", "worker_shutdown_timeout")
	if !s.Changed {
		t.Error("reloaded but not changed")
	}

	f = &fakeNginx{lists: [][]docker.Process{procs("7")}} // the reload never takes
	n = testNginx(t, f)
	n.Timeout = 50 * time.Millisecond
	_, err = n.Drain(context.Background(), []Server{{Name: "app_1", Address: "10.0.0.1"}})
	errtest.Says(t, err, "no new worker process started", "docker logs")
}

// A conf nginx -t rejects: the last good one is put back, nothing reloaded.
func TestNginxRejectedConfRestoresLastGood(t *testing.T) {
	f := &fakeNginx{lists: workersGoing()}
	n := testNginx(t, f)
	good := []Server{{Name: "app_1", Address: "10.0.0.1"}}
	if _, err := n.Drain(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	goodConf, _ := os.ReadFile(n.Conf)
	f.testRC, f.calls = 1, nil
	s, err := n.Drain(context.Background(), []Server{{Name: "app_1", Address: "10.0.0.1", Down: true}})
	errtest.Says(t, err, `unknown directive "bogus"`, "restored the last good default.conf", "keeps serving")
	if got := strings.Join(f.calls, ","); got != "nginx -t" {
		t.Errorf("calls after a failed test: %s", got)
	}
	if b, _ := os.ReadFile(n.Conf); string(b) != string(goodConf) {
		t.Errorf("conf = %q, want the good copy %q", b, goodConf)
	}
	if s.Changed && s.Msg == "" {
		t.Errorf("step %+v", s)
	}

	// No good copy: the rejected conf stays.
	f = &fakeNginx{testRC: 1}
	n = testNginx(t, f)
	_, err = n.Drain(context.Background(), good)
	errtest.Says(t, err, "no last good copy", "left as is")
	if b, _ := os.ReadFile(n.Conf); string(b) != "app_1 10.0.0.1 false\n" {
		t.Errorf("conf = %q, want it left as is", b)
	}
}

// Not running: a clear error, before anything is tested.
func TestNginxNotRunning(t *testing.T) {
	n := testNginx(t, nil)
	n.Container = func(context.Context) (Container, error) { return nil, nil }
	_, err := n.Drain(context.Background(), nil)
	errtest.Says(t, err, "not running", "compose_up")
}
