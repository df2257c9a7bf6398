package tasks

import (
	"strings"
	"testing"

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

	// More replicas than slots.
	many := append(want, upstreamServer{name: "app_5", address: "10.0.0.5"}, upstreamServer{name: "app_6", address: "10.0.0.6"})
	if _, _, _, err := task.plan(have, many, keep); err == nil || !strings.Contains(err.Error(), "raise the slots variable") {
		t.Errorf("too many replicas: err = %v", err)
	}
}
