// This file tests bluegreen.hcl end to end against the real Docker engine,
// real nginx and real HTTP load, with the harness of app_e2e_test.go.
package playbooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/probe"
	"github.com/zdplay/zdplay/runner"
)

// blueGreen is one project of bluegreen.hcl: the harness's deploy (its own
// project, port, dir and log; get, versionsServed, underLoad) whose runs
// load bluegreen.hcl instead of app.hcl, with -e proxy=proxy.
type blueGreen struct {
	*deploy
	proxy string
}

func newBlueGreen(t *testing.T, proxy string, vars ...string) *blueGreen {
	t.Helper()
	d := newDeploy(t, append([]string{"proxy=" + proxy}, vars...)...)
	d.playbook = "bluegreen.hcl" // its teardown too
	return &blueGreen{d, proxy}
}

// eachProvisioned runs test once per proxy, as a subtest, on a blue-green
// stack of its own (vars: its -e values) provisioned at 0.0.1.
func eachProvisioned(t *testing.T, test func(t *testing.T, b *blueGreen), vars ...string) {
	forEachProxy(t, func(t *testing.T, proxy string) {
		b := newBlueGreen(t, proxy, vars...)
		b.mustRun("provision", "version=0.0.1")
		test(t, b)
	})
}

// switchKind is the kind of the task "switch" that moves traffic from one
// colour to the other, whichever the proxy (a reload with nginx, the
// runtime API with HAProxy).
func (b *blueGreen) switchKind() string { return "proxy" }

// switchStatus is the status of the last switch of a run: a deploy first
// puts the proxy on the recorded live colour (a no-op when nothing was
// interrupted), then switches to the idle one.
func (b *blueGreen) switchStatus(recap *runner.Recap) string {
	got := statusOf(recap, b.switchKind(), "switch")
	if len(got) == 0 {
		return ""
	}
	return got[len(got)-1]
}

// wantNoConnectionClosed checks, with HAProxy, what no reload buys: no
// client retried a request on a keep-alive connection the proxy closed,
// and haproxy.cfg was not reloaded. With nginx it logs the retries: each
// reload closes its old workers' idle client connections.
func (b *blueGreen) wantNoConnectionClosed(r *probe.Report, recap *runner.Recap) {
	b.t.Helper()
	if b.proxy != "haproxy" {
		b.t.Logf("nginx: %d client retries on connections the reload closed", r.Retries)
		return
	}
	wantNoRetry(b.t, r)
	wantNoReload(b.t, recap)
}

// state reads a state file under dir ("" when it does not exist).
func (b *blueGreen) state(name string) string {
	data, err := os.ReadFile(filepath.Join(b.dir, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		b.t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func (b *blueGreen) wantState(live, liveRelease string, releases map[string]string) {
	b.t.Helper()
	if got := b.state("live-colour"); got != live {
		b.t.Fatalf("live-colour = %q, want %q", got, live)
	}
	if got := b.state("live-release"); got != liveRelease {
		b.t.Fatalf("live-release = %q, want %q", got, liveRelease)
	}
	for colour, want := range releases {
		if got := b.state(colour + "-release"); got != want {
			b.t.Fatalf("%s-release = %q, want %q", colour, got, want)
		}
	}
}

// colour maps each replica of a colour that has a container to it.
func (b *blueGreen) colour(colour string) map[string]docker.Container {
	b.t.Helper()
	c, err := docker.Connect(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	defer c.Close()
	out := map[string]docker.Container{}
	for i := 1; i <= 4; i++ {
		s := fmt.Sprintf("%s_%d", colour, i)
		ctr, err := c.ContainerOf(context.Background(), b.project, s)
		switch {
		case errors.Is(err, docker.ErrNoContainer):
		case err != nil:
			b.t.Fatal(err)
		default:
			out[s] = ctr
		}
	}
	return out
}

// wantColourRunning checks that every replica of colour runs image:release
// and is healthy.
func (b *blueGreen) wantColourRunning(colour, release string, replicas int) {
	b.t.Helper()
	ctrs := b.colour(colour)
	if len(ctrs) != replicas {
		b.t.Fatalf("%s has %d container(s), want %d", colour, len(ctrs), replicas)
	}
	for s, ctr := range ctrs {
		if !ctr.Running || ctr.Health != "healthy" || !strings.HasSuffix(ctr.Image, ":"+release) {
			b.t.Fatalf("%s: %s %s health=%q, want running and healthy at %s", s, ctr.Image, ctr.State, ctr.Health, release)
		}
	}
}

// proxyConf is the proxy's rendered configuration.
func (b *blueGreen) proxyConf() []byte {
	b.t.Helper()
	path := filepath.Join(b.dir, "nginx", "default.conf")
	if b.proxy == "haproxy" {
		path = filepath.Join(b.dir, "haproxy", "haproxy.cfg")
	}
	conf, err := os.ReadFile(path)
	if err != nil {
		b.t.Fatal(err)
	}
	return conf
}

// duration is how long the last task of that kind and name took in recap
// (0 when none ran).
func duration(recap *runner.Recap, kind, name string) time.Duration {
	var d time.Duration
	for _, t := range recap.Tasks {
		if t.Kind == kind && t.Name == name {
			d = t.Duration
		}
	}
	return d
}

// switchedCleanly checks the probe's view of a switch from one release to
// another: no request failed, both answered, and the old release stopped
// answering within the switch task (nginx's reload, whose old workers
// finish the requests in flight; HAProxy's ready, drain and maint), give or
// take the longest response time (a response arrives that long after the
// proxy got it at most).
func (b *blueGreen) switchedCleanly(r *probe.Report, from, to string, recap *runner.Recap) {
	t := b.t
	t.Helper()
	if r.Total == 0 || r.Failed != 0 {
		t.Fatalf("%d of %d requests failed during the switch %s -> %s", r.Failed, r.Total, from, to)
	}
	var o, n *probe.VersionStat
	for i := range r.Versions {
		switch r.Versions[i].Version {
		case from:
			o = &r.Versions[i]
		case to:
			n = &r.Versions[i]
		}
	}
	if o == nil || n == nil || len(r.Versions) != 2 {
		t.Fatalf("versions seen during the switch: %+v, want %s then %s", r.Versions, from, to)
	}
	kind := b.switchKind()
	took := duration(recap, kind, "switch")
	overlap := o.LastSeen.Sub(n.FirstSeen)
	t.Logf("%s: switch %s -> %s: run %s, %s \"switch\" %s, both answered for %s; %d requests, %d failed, %d client retries, p99 %s, max %s",
		b.proxy, from, to, recap.Elapsed.Round(time.Millisecond), kind, took.Round(time.Millisecond), max(overlap, 0).Round(time.Millisecond),
		r.Total, r.Failed, r.Retries, r.Latency.P99, r.Latency.Max)
	if took == 0 {
		t.Fatalf("no %s \"switch\" ran", kind)
	}
	if overlap > took+r.Latency.Max {
		t.Fatalf("%s still answered %s after %s first did, longer than the switch (%s) and the longest response (%s): traffic did not move in one switch", from, overlap, to, took, r.Latency.Max)
	}
}

// Provision blue at 0.0.1; deploy 0.0.2 to green under load; re-run;
// switch back to blue under load; retire green. For each proxy.
func TestBlueGreenDeploySwitchbackRetire(t *testing.T) {
	eachProvisioned(t, testDeploySwitchbackRetire)
}

func testDeploySwitchbackRetire(t *testing.T, b *blueGreen) {
	b.wantOnly("app@0.0.1")
	b.wantState("blue", "0.0.1", map[string]string{"blue": "0.0.1", "green": ""})
	b.wantColourRunning("blue", "0.0.1", 2)
	if len(b.colour("green")) != 0 {
		t.Fatal("provision started green")
	}
	switch conf := b.proxyConf(); {
	case b.proxy == "nginx" && (!bytes.Contains(conf, []byte("# blue_1")) || bytes.Contains(conf, []byte("green_"))):
		t.Fatalf("the nginx conf should name blue only (green does not exist):\n%s", conf)
	case b.proxy == "haproxy" && (!bytes.Contains(conf, []byte("server-template app 1-4 ")) || bytes.Contains(conf, []byte("blue_"))):
		t.Fatalf("haproxy.cfg should have 4 slots and name no replica (they are set over the runtime API):\n%s", conf)
	}
	b.mustConverge("provision", "version=0.0.1")
	before := b.containers()
	hitsBefore := hits(t, b.get())

	// --check says what the deploy would do and changes nothing.
	recap, err := b.runOpts(runner.Options{Check: true, Selection: runner.Selection{Tags: []string{"deploy"}}}, "version=0.0.2")
	if err != nil {
		t.Fatalf("--check: %v\n%s", err, b.log)
	}
	if got := b.switchStatus(recap); got != runner.StatusChanged {
		t.Fatalf("--check: %s \"switch\" %s, want changed (would switch)", b.switchKind(), got)
	}
	if len(b.colour("green")) != 0 || b.state("green-release") != "" || b.state("live-colour") != "blue" {
		t.Fatal("--check started green or wrote the state")
	}

	report := b.underLoad(40, true, func() { recap = b.mustRun("deploy", "version=0.0.2") })
	b.switchedCleanly(report, "app@0.0.1", "app@0.0.2", recap)
	b.wantNoConnectionClosed(report, recap)
	b.wantOnly("app@0.0.2")
	b.wantState("green", "0.0.2", map[string]string{"blue": "0.0.1", "green": "0.0.2"})
	b.wantColourRunning("green", "0.0.2", 2)
	b.wantColourRunning("blue", "0.0.1", 2) // kept for an instant switch back
	if after := b.containers(); after["db"] != before["db"] || after["proxy"] != before["proxy"] {
		t.Fatal("the deploy recreated the db or the proxy")
	}
	if h := hits(t, b.get()); h <= hitsBefore {
		t.Fatalf("hits went from %d to %d: the colours do not share the db", hitsBefore, h)
	}

	// The release already live: nothing to do.
	b.mustConverge("deploy", "version=0.0.2")
	// And provision converges the recorded state (green live, blue idle).
	b.mustConverge("provision", "version=0.0.1")
	b.wantOnly("app@0.0.2")

	report = b.underLoad(40, true, func() { recap = b.mustRun("switchback") })
	b.switchedCleanly(report, "app@0.0.2", "app@0.0.1", recap)
	b.wantNoConnectionClosed(report, recap)
	b.wantOnly("app@0.0.1")
	b.wantState("blue", "0.0.1", map[string]string{"blue": "0.0.1", "green": "0.0.2"})
	b.wantColourRunning("green", "0.0.2", 2)
	if statusOf(recap, "compose_recreate", "") != nil {
		t.Fatal("switchback recreated containers")
	}
	assertNoneChanged(t, recap, "compose_up")

	// Retire green: only blue is left, and nothing to switch back to.
	report = b.underLoad(40, true, func() { recap = b.mustRun("retire") })
	if report.Failed != 0 || report.Total == 0 {
		t.Fatalf("%d of %d requests failed while green was retired", report.Failed, report.Total)
	}
	t.Logf("%s: retire: %s, %d requests, %d failed, %d client retries", b.proxy, recap.Elapsed.Round(time.Millisecond), report.Total, report.Failed, report.Retries)
	if n := len(b.colour("green")); n != 0 {
		t.Fatalf("green still has %d container(s) after retire", n)
	}
	b.wantColourRunning("blue", "0.0.1", 2)
	b.wantState("blue", "0.0.1", map[string]string{"blue": "0.0.1", "green": ""})
	b.wantOnly("app@0.0.1")
	if compose, _ := os.ReadFile(filepath.Join(b.dir, "docker-compose.yml")); bytes.Contains(compose, []byte("green_")) {
		t.Fatal("the compose file still has green after retire")
	}
	b.mustConverge("retire")
	if _, err := b.run("switchback"); err == nil || !strings.Contains(err.Error(), "no colour to switch back to") {
		t.Fatalf("switchback after retire: err = %v, want a refusal", err)
	}
	b.wantOnly("app@0.0.1")
}

// A release that never turns healthy on the idle colour is never switched
// to: the live colour serves every request, the run fails saying why, and
// switchback to the failed colour is refused. Retire and a good deploy
// recover.
func TestBlueGreenFailedDeployKeepsLive(t *testing.T) {
	eachProvisioned(t, testFailedDeployKeepsLive, "health_timeout=4s")
}

func testFailedDeployKeepsLive(t *testing.T, b *blueGreen) {
	var recap *runner.Recap
	var err error
	report := b.underLoad(40, true, func() { recap, err = b.run("deploy", "version=0.0.3-ping500") })
	var failed *runner.TaskFailedError
	if !errors.As(err, &failed) || !strings.Contains(err.Error(), "did not turn healthy on green") || !strings.Contains(err.Error(), "blue (0.0.1) still serves") {
		t.Fatalf("deploy of 0.0.3-ping500: err = %v, want a failure saying it did not switch", err)
	}
	if report.Failed != 0 || report.Total == 0 {
		t.Fatalf("%d of %d requests failed during the failed deploy", report.Failed, report.Total)
	}
	if len(report.Versions) != 1 || report.Versions[0].Version != "app@0.0.1" {
		t.Fatalf("versions seen during the failed deploy: %+v, want only app@0.0.1", report.Versions)
	}
	if got := statusOf(recap, b.switchKind(), "switch"); len(got) != 1 || got[0] == runner.StatusChanged {
		t.Fatalf("%s \"switch\": %v, want one unchanged (the proxy already on blue), though green never turned healthy", b.switchKind(), got)
	}
	t.Logf("%s: failed deploy: %s, %d requests, %d failed", b.proxy, recap.Elapsed.Round(time.Millisecond), report.Total, report.Failed)
	b.wantOnly("app@0.0.1")
	b.wantState("blue", "0.0.1", map[string]string{"blue": "0.0.1", "green": "0.0.3-ping500"})
	b.wantColourRunning("blue", "0.0.1", 2)

	// The failed colour is no place to switch back to.
	if _, err := b.run("switchback", "health_timeout=2s"); err == nil || !strings.Contains(err.Error(), "green_1 not healthy") {
		t.Fatalf("switchback to the failed colour: err = %v, want it refused", err)
	}
	b.wantOnly("app@0.0.1")
	b.wantState("blue", "0.0.1", nil)

	b.mustRun("retire")
	if n := len(b.colour("green")); n != 0 {
		t.Fatalf("green still has %d container(s) after retire", n)
	}
	b.mustRun("deploy", "version=0.0.2")
	b.wantOnly("app@0.0.2")
	b.wantState("green", "0.0.2", map[string]string{"blue": "0.0.1", "green": "0.0.2"})
}

// Without the proxy's retry on another replica, the switch alone must keep
// every request whole: a deploy under clients without keep-alive, then a
// switchback under 40 keep-alive POST clients, which never retry a request
// on a connection the proxy closed. With HAProxy none fails; with nginx,
// whose reload closes its old workers' idle connections, the failed POSTs
// are counted, not hidden.
func TestBlueGreenNoRetryKeepAliveOffAndPOST(t *testing.T) {
	eachProvisioned(t, testNoRetryKeepAliveOffAndPOST, "proxy_next_upstream=false")
}

func testNoRetryKeepAliveOffAndPOST(t *testing.T, b *blueGreen) {
	var recap *runner.Recap
	report := b.underLoad(40, false, func() { recap = b.mustRun("deploy", "version=0.0.2-slowboot") })
	b.switchedCleanly(report, "app@0.0.1", "app@0.0.2", recap)
	b.wantOnly("app@0.0.2")

	report = b.underProbe(probe.Options{Concurrency: 40, KeepAlive: true, Method: http.MethodPost, Body: "x"}, func() {
		recap = b.mustRun("switchback")
	})
	if b.proxy == "nginx" {
		t.Logf("nginx: switchback under POST clients: %d of %d failed (%v), switch %s", report.Failed, report.Total, report.Errors, duration(recap, "proxy", "switch"))
	} else {
		b.switchedCleanly(report, "app@0.0.2", "app@0.0.1", recap)
		b.wantNoConnectionClosed(report, recap)
	}
	b.wantOnly("app@0.0.1")
}

// A deploy killed between its switch and its record leaves the proxy on the
// new colour while the state files still name the old one live. The next
// deploy must not recreate the colour that serves: it moves traffic back to
// the recorded live colour first (still running), then deploys to the other.
func TestBlueGreenResumesInterruptedSwitch(t *testing.T) {
	eachProvisioned(t, testResumesInterruptedSwitch)
}

func testResumesInterruptedSwitch(t *testing.T, b *blueGreen) {
	b.mustRun("deploy", "version=0.0.2")
	// As the killed run left it: switched to green, not recorded.
	for name, v := range map[string]string{"live-colour": "blue", "live-release": "0.0.1"} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.wantOnly("app@0.0.2")

	var recap *runner.Recap
	report := b.underLoad(40, true, func() { recap = b.mustRun("deploy", "version=0.0.2-slowboot") })
	if report.Failed != 0 || report.Total == 0 {
		t.Fatalf("%d of %d requests failed: the deploy recreated the colour that served", report.Failed, report.Total)
	}
	if got := statusOf(recap, b.switchKind(), "switch"); len(got) != 2 || got[0] != runner.StatusChanged || got[1] != runner.StatusChanged {
		t.Fatalf("%s \"switch\": %v, want changed twice (back to blue first, then to green)", b.switchKind(), got)
	}
	t.Logf("%s: resumed deploy: %s, %d requests, %d failed", b.proxy, recap.Elapsed.Round(time.Millisecond), report.Total, report.Failed)
	b.wantState("green", "0.0.2-slowboot", map[string]string{"blue": "0.0.1", "green": "0.0.2-slowboot"})
	b.wantColourRunning("green", "0.0.2-slowboot", 2)
	b.wantOnly("app@0.0.2")
}
