package tasks

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/zdplay/zdplay/internal/haproxy"
)

func TestHaproxyUpstreamPlan(t *testing.T) {
	const maint, ready = 0x05, 0x04 // disabled in the conf; forced maint or not
	have := []haproxy.Server{
		{Name: "app1", Addr: "10.0.0.1", Port: 3000, OpState: 2, Admin: ready},
		{Name: "app2", Addr: "10.0.0.2", Port: 3000, OpState: 2, Admin: ready},
		{Name: "app3", Addr: "10.0.0.9", Port: 3000, OpState: 2, Admin: ready},
		{Name: "app4", Addr: "0.0.0.0", Port: 3000, Admin: maint},
	}
	slots := map[string]string{"app_1": "app1", "app_2": "app2", "app_9": "app3"}
	want := []upstreamServer{
		{name: "app_1", address: "10.0.0.1"},             // unchanged
		{name: "app_2", address: "10.0.0.2", down: true}, // to drain
		{name: "app_3", address: "10.0.0.3"},             // new: a free slot
	}
	task := &HaproxyUpstream{}
	in, out, keep, err := task.plan(have, want, slots)
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
	if in, out, _, _ := task.plan(have, want, keep); len(in)+len(out) != 0 {
		t.Errorf("converged: in %v, out %v", in, out)
	}

	// A recreated replica with a new address in its old slot.
	want[0].address = "10.0.0.7"
	if in, _, _, _ := task.plan(have, want, keep); stepsString(in) != "app_1 (app1) at 10.0.0.7 ready" {
		t.Errorf("new address: %q", stepsString(in))
	}

	// A replica to put in that does not run yet: Check says so, Apply
	// refuses before anything changes (see Apply).
	pending := append([]upstreamServer{}, want...)
	pending[2].address = ""
	if in, _, _, err := task.plan(have, pending, keep); err != nil || stepsString(in) != "app_1 (app1) at 10.0.0.7 ready; app_3 (app4) ready once it runs (no address yet)" || !in[1].noAddr {
		t.Errorf("no address: in %q, err %v", stepsString(in), err)
	}
	if _, err := (&HaproxyUpstream{Socket: "/x", Upstream: cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{
		"name": cty.StringVal("app_1"), "address": cty.StringVal(""), "down": cty.True,
	})})}).servers(); err == nil {
		t.Error("a down server without an address was accepted")
	}

	// More replicas than slots.
	many := append(want, upstreamServer{name: "app_5", address: "10.0.0.5"}, upstreamServer{name: "app_6", address: "10.0.0.6"})
	if _, _, _, err := task.plan(have, many, keep); err == nil || !strings.Contains(err.Error(), "raise the slots variable") {
		t.Errorf("too many replicas: err = %v", err)
	}
}

// fakeHaproxy answers the runtime API's reads on a unix socket with two
// ready slots, and records every other command.
func fakeHaproxy(t *testing.T) (socket string, commands func() []string) {
	t.Helper()
	socket = filepath.Join(t.TempDir(), "admin.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			cmd, _ := io.ReadAll(c)
			switch line := strings.TrimSpace(string(cmd)); {
			case line == "show info":
				_, _ = io.WriteString(c, "Name: HAProxy\n")
			case strings.HasPrefix(line, "show servers state"):
				_, _ = io.WriteString(c, "1\n# be_id be_name srv_id srv_name ...\n"+
					"3 app 1 app1 10.0.0.1 2 4 1 1 5 6 3 4 6 0 0 0 slot.invalid 3000 - 0 0 - - 0\n"+
					"3 app 2 app2 10.0.0.2 2 4 1 1 5 6 3 4 6 0 0 0 slot.invalid 3000 - 0 0 - - 0\n")
			case line == "show stat":
				_, _ = io.WriteString(c, "# pxname,svname,qcur,qmax,scur\napp,app1,0,0,0\napp,app2,0,0,0\n")
			default:
				mu.Lock()
				got = append(got, line)
				mu.Unlock()
			}
			c.Close()
		}
	}()
	return socket, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

// A replica to put in that does not run (no address) fails the task
// before any server is touched: the ones serving are not drained for it.
func TestHaproxyUpstreamRefusesAReplicaWithoutAddress(t *testing.T) {
	socket, commands := fakeHaproxy(t)
	server := func(name, addr string, down bool) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(name), "address": cty.StringVal(addr), "down": cty.BoolVal(down)})
	}
	task := &HaproxyUpstream{Socket: socket, Upstream: cty.TupleVal([]cty.Value{
		server("blue_1", "10.0.0.1", true), server("green_1", "", false),
	})}
	_, err := task.Apply(context.Background(), &Env{})
	if err == nil || !strings.Contains(err.Error(), "green_1 has no address") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("Apply: err = %v, want a refusal naming green_1", err)
	}
	if got := commands(); len(got) != 0 {
		t.Fatalf("Apply sent %q before refusing", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(socket), "zdplay-slots.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Apply saved the slots before refusing: %v", err)
	}
	res, err := task.Check(context.Background(), &Env{})
	if err != nil || !res.Changed || !strings.Contains(res.Msg, "green_1 (app2) ready once it runs") {
		t.Fatalf("Check: %+v, %v, want it to say green_1 is put in once it runs", res, err)
	}
}
