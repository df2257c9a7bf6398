package playbooks

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/zdplay/zdplay/internal/probe"
	"github.com/zdplay/zdplay/runner"
)

// The shipped playbook with -e proxy=haproxy: the replicas go in and out of
// HAProxy's server-template slots over its runtime API, never by a reload.

// wantNoReload fails if a run reloaded haproxy, or set no slot.
func wantNoReload(t *testing.T, recap *runner.Recap) {
	t.Helper()
	changed := false
	for _, task := range recap.Tasks {
		if task.Kind == "proxy" && strings.Contains(task.Msg, "reloaded") {
			t.Fatalf("%s reloaded haproxy: %s", task.Title(), task.Msg)
		}
		changed = changed || task.Kind == "proxy" && task.Status == runner.StatusChanged
	}
	if !changed {
		t.Fatalf("no proxy task set a slot: %s", recap.Summary())
	}
}

func wantNoRetry(t *testing.T, r *probe.Report) {
	t.Helper()
	if r.Retries != 0 {
		t.Fatalf("the clients retried %d requests on a closed keep-alive connection: HAProxy closed a client connection", r.Retries)
	}
}

// Scaling needs no reload: the new replicas take free slots.
func TestHaproxyScaleUpWithVersionChange(t *testing.T) {
	d := newDeploy(t, "proxy=haproxy")
	d.mustRun("provision")
	var recap *runner.Recap
	report := d.underLoad(40, true, func() { recap = d.mustRun("upgrade", "version=0.0.2", "replicas=4") })
	wantCleanSwitch(t, report, "2 -> 4 replicas", "0.0.1", "0.0.2")
	wantNoReload(t, recap)
	d.wantServing("0.0.2", "app_1", "app_2", "app_3", "app_4")
	if hosts := d.servingHosts(40, "", "after 2 -> 4 replicas"); len(hosts) != 4 {
		t.Fatalf("answers came from %d replicas, want 4", len(hosts))
	}
}

// A POST is never retried by the client on a closed keep-alive connection,
// so with nginx's reloads some fail; HAProxy closes none.
func TestHaproxyUpgradePOSTClients(t *testing.T) {
	// The proxy's own retries off: the drain alone must keep POSTs whole.
	d := newDeploy(t, "proxy=haproxy", "proxy_next_upstream=false")
	d.mustRun("provision")
	report := d.underProbe(probe.Options{Concurrency: 40, KeepAlive: true, Method: http.MethodPost, Body: "x"}, func() {
		d.mustRun("upgrade", "version=0.0.2")
	})
	wantCleanSwitch(t, report, "the upgrade under POST clients", "0.0.1", "0.0.2")
	wantNoRetry(t, report)
}

// A changed haproxy.cfg (here fewer slots) is reloaded: the new worker takes
// the listeners and the slots' state over and no request fails. It is not
// free: HAProxy 2.6's old worker closes its idle client keep-alive
// connections (a GET client retries; idle-close-on-response, which would
// keep them, came with 2.7), which is why replicas come and go through the
// slots, without a reload.
func TestHaproxyConfigChangeReloadFailsNothing(t *testing.T) {
	d := newDeploy(t, "proxy=haproxy")
	d.mustRun("provision")
	var recap *runner.Recap
	report := d.underLoad(40, true, func() { recap = d.mustRun("upgrade", "slots=8") })
	wantNoFailure(t, report, "the reload of haproxy.cfg")
	t.Logf("client retries during the reload: %d", report.Retries)
	i := slices.IndexFunc(recap.Tasks, func(r *runner.TaskResult) bool { return r.Kind == "proxy" && r.Name == "setup" })
	if i < 0 || recap.Tasks[i].Status != runner.StatusChanged || !strings.Contains(recap.Tasks[i].Msg, "validated, reloaded haproxy") {
		t.Fatalf("no proxy \"setup\" that changed, saying it reloaded haproxy: %s", recap.Summary())
	}
	assertNoneChanged(t, recap, "compose_recreate")
	d.wantOnly("app@0.0.1")
	d.mustConverge("upgrade", "slots=8")
}
