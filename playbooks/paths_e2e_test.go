package playbooks

// Zero failed requests on every path into a live stack (issue 15): the
// full playbook, -t provision, scaling, dead replicas, a dead proxy, and
// many upgrade/rollback cycles, each under 40 keep-alive clients.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/probe"
	"github.com/zdplay/zdplay/runner"
)

// kill sends SIGKILL to a service's container, as `docker kill` does (the
// restart policy does not bring it back), and returns the container's ID.
func (d *deploy) kill(service string) string {
	d.t.Helper()
	c, err := docker.Connect(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	ctr, err := c.ContainerOf(context.Background(), d.project, service)
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := c.API().ContainerKill(context.Background(), ctr.ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		d.t.Fatal(err)
	}
	return ctr.ID
}

// waitRecreated waits (at most 60 s) until service has another container
// than it had in before: a run is replacing it.
func (d *deploy) waitRecreated(service string, before map[string]string) {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for d.containers()[service] == before[service] {
		if time.Now().After(deadline) {
			d.t.Fatalf("%s was never recreated", service)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantServing fails unless exactly the services named serve, each at
// version, and the proxy answers only with it.
func (d *deploy) wantServing(version string, services ...string) {
	d.t.Helper()
	got := d.containers()
	for s := range got {
		if strings.HasPrefix(s, "app_") && !slices.Contains(services, s) {
			d.t.Errorf("%s still has a container after the run", s)
		}
	}
	for _, s := range services {
		if got[s] == "" {
			d.t.Errorf("%s has no container", s)
		}
	}
	want := "app@" + strings.Split(version, "-")[0]
	d.wantOnly(want)
}

func wantNoFailure(t *testing.T, r *probe.Report, what string) {
	t.Helper()
	if r.Failed != 0 || r.Total == 0 {
		t.Fatalf("%d of %d requests failed during %s: %v %v", r.Failed, r.Total, what, r.Status, r.Errors)
	}
}

func TestFullPlaybookNoTagsOnLiveStack(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision", "version=0.0.1")
	report := d.underLoad(40, true, func() {
		// No -t: every role that is not tagged never, as seed 002's README
		// runs it first.
		if _, err := d.runOpts(runner.Options{}, "version=0.0.2"); err != nil {
			t.Fatalf("zdplay run app.hcl -e version=0.0.2: %v\n%s", err, d.log)
		}
	})
	wantCleanSwitch(t, report, "the full playbook", "0.0.1", "0.0.2")
	d.wantServing("0.0.2", "app_1", "app_2")
}

func TestProvisionNewVersionOnLiveStack(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision", "version=0.0.1")
	// A release whose HEALTHCHECK interval is 1 s: the slow boot is what
	// dropped 221 requests when provision recreated every replica at once.
	report := d.underLoad(40, true, func() { d.mustRun("provision", "version=0.0.2-slowboot") })
	wantCleanSwitch(t, report, "provision", "0.0.1", "0.0.2-slowboot")
	d.wantServing("0.0.2", "app_1", "app_2")
}

func TestScaleUpAndDownWithVersionChange(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision", "version=0.0.1")
	report := d.underLoad(40, true, func() { d.mustRun("upgrade", "version=0.0.2", "replicas=4") })
	wantCleanSwitch(t, report, "2 -> 4 replicas", "0.0.1", "0.0.2")
	d.wantServing("0.0.2", "app_1", "app_2", "app_3", "app_4")
	report = d.underLoad(40, true, func() { d.mustRun("upgrade", "version=0.0.1", "replicas=2") })
	wantCleanSwitch(t, report, "4 -> 2 replicas", "0.0.2", "0.0.1")
	d.wantServing("0.0.1", "app_1", "app_2")
	// Converged at 2: nothing changes.
	d.mustConverge("upgrade", "version=0.0.1", "replicas=2")
	// start-first with a count change: the surge (app_4, past the new
	// count) and the new replica (app_3) both start before anything drains;
	// down again, the extra replica is drained and retired.
	report = d.underLoad(40, true, func() { d.mustRun("upgrade", "version=0.0.2", "replicas=3", "order=start-first") })
	wantCleanSwitch(t, report, "start-first, 2 -> 3 replicas", "0.0.1", "0.0.2")
	d.wantServing("0.0.2", "app_1", "app_2", "app_3")
	report = d.underLoad(40, true, func() { d.mustRun("upgrade", "version=0.0.1", "replicas=2", "order=start-first") })
	wantCleanSwitch(t, report, "start-first, 3 -> 2 replicas", "0.0.2", "0.0.1")
	d.wantServing("0.0.1", "app_1", "app_2")
}

func TestDeadReplicaIsHealedByUpgrade(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision", "version=0.0.1")
	d.kill("app_2")
	report := d.underLoad(40, true, func() { d.mustRun("upgrade", "version=0.0.2") })
	wantCleanSwitch(t, report, "an upgrade with a dead replica", "0.0.1", "0.0.2")
	d.wantServing("0.0.2", "app_1", "app_2")
	if !strings.Contains(d.log.String(), "healed or created app_2") {
		t.Errorf("the recap does not say app_2 was healed:\n%s", d.log)
	}
	// Dead at the release it should run: a converge heals it too. (And
	// monitor=0ms, which the strategy accepted and wait_healthy refused
	// after the recreate: issue 15, bug 5.)
	d.kill("app_1")
	recap := d.mustRun("upgrade", "version=0.0.2", "monitor=0ms")
	if recap.Changed == 0 {
		t.Fatal("a dead replica was not replaced")
	}
	d.wantServing("0.0.2", "app_1", "app_2")
}

func TestReplicaDiesDuringAnotherUpgrade(t *testing.T) {
	d := newDeploy(t, "replicas=3")
	d.mustRun("provision", "version=0.0.1")
	before := d.containers()
	report := d.underLoad(40, true, func() {
		done := make(chan error, 1)
		go func() { _, err := d.run("upgrade", "version=0.0.2-slowboot"); done <- err }()
		// Once app_1 is being replaced (a new container), app_3 dies.
		d.waitRecreated("app_1", before)
		d.kill("app_3")
		if err := <-done; err != nil {
			t.Fatalf("upgrade: %v\n%s", err, d.log)
		}
	})
	wantCleanSwitch(t, report, "an upgrade while a replica died", "0.0.1", "0.0.2-slowboot")
	d.wantServing("0.0.2", "app_1", "app_2", "app_3")
	if !strings.Contains(d.log.String(), "app_3 not serving") {
		t.Errorf("the run did not notice app_3 died:\n%s", d.log)
	}
}

// TestDeadReplicaInSteadyState: a replica that dies between runs stops
// receiving requests at once (nginx's passive check, max_fails=1 shared by
// every worker), and with nginx's retry on no request fails.
func TestDeadReplicaInSteadyState(t *testing.T) {
	deadReplicaInSteadyState(t, 2*time.Second)
}

// TestHaproxyDeadReplicaInSteadyState: with HAProxy, the first failed
// connection to the dead replica marks it down (observe layer4), its active
// checks (every 500 ms) keep it out; traffic recovers within 1 s (measured:
// the last slow request is logged).
func TestHaproxyDeadReplicaInSteadyState(t *testing.T) {
	deadReplicaInSteadyState(t, time.Second, "proxy=haproxy")
}

// slowOver is a request slower than any the demo stack answers in steady
// state under 40 clients on 2 cores (p99 50-150 ms): one that waited on a
// dead replica.
const slowOver = 300 * time.Millisecond

func deadReplicaInSteadyState(t *testing.T, within time.Duration, vars ...string) {
	d := newDeploy(t, vars...)
	d.mustRun("provision", "version=0.0.1")
	var killedAt time.Time
	report := d.underProbe(probe.Options{Concurrency: 40, KeepAlive: true, SlowOver: slowOver}, func() {
		time.Sleep(2 * time.Second)
		killedAt = time.Now()
		d.kill("app_2")
		time.Sleep(6 * time.Second)
	})
	wantNoFailure(t, report, "steady state with a dead replica")
	recovered := "at once"
	if report.LastSlow.After(killedAt) {
		recovered = report.LastSlow.Sub(killedAt).Round(time.Millisecond).String() + " after the kill"
	}
	t.Logf("one of two replicas dead (%v): the last request slower than %s was sent %s (p99 %s over the run)", vars, slowOver, recovered, report.Latency.P99)
	killSec := int(killedAt.Sub(report.Start) / time.Second)
	skip := int((within + time.Second - 1) / time.Second)
	var before, after []probe.Second
	for _, s := range report.Timeline {
		switch {
		case s.Second >= 1 && s.Second < killSec:
			before = append(before, s)
		case s.Second >= killSec+skip && s.Second < killSec+6:
			after = append(after, s)
		}
	}
	rate := func(ss []probe.Second) (n int64, p99 time.Duration) {
		for _, s := range ss {
			n += s.Requests
			p99 = max(p99, s.P99)
		}
		return n / int64(max(len(ss), 1)), p99
	}
	rb, pb := rate(before)
	ra, pa := rate(after)
	t.Logf("one of two replicas dead (%v): %d req/s (p99 %s) before, %d req/s (p99 %s) from %s after the kill", vars, rb, pb, ra, pa, within)
	if ra < rb/3 {
		t.Fatalf("throughput did not recover within %s of the kill: %d req/s before, %d after", within, rb, ra)
	}
	// The next run heals it.
	d.mustRun("upgrade", "version=0.0.1")
	d.wantServing("0.0.1", "app_1", "app_2")
}

func TestProxyKilledMidUpgrade(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision", "version=0.0.1")
	before := d.containers()
	done := make(chan error, 1)
	go func() { _, err := d.run("upgrade", "version=0.0.2-slowboot"); done <- err }()
	d.waitRecreated("app_1", before)
	d.kill("proxy")
	err := <-done
	if err == nil {
		t.Fatalf("the upgrade succeeded with its proxy killed:\n%s", d.log)
	}
	if !strings.Contains(err.Error(), "proxy") {
		t.Errorf("the error does not name the proxy: %v", err)
	}
	// The same command again converges: the proxy is brought back up.
	d.log.Reset()
	d.mustRun("upgrade", "version=0.0.2-slowboot")
	d.wantServing("0.0.2", "app_1", "app_2")
}

func TestTenUpgradeRollbackCycles(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision", "version=0.0.1")
	report := d.underLoad(40, true, func() {
		for i := range 10 {
			if i%2 == 0 {
				d.mustRun("upgrade", "version=0.0.2")
			} else {
				d.mustRun("rollback")
			}
		}
	})
	wantCleanSwitch(t, report, "10 upgrade/rollback cycles", "0.0.1", "0.0.2")
	d.wantServing("0.0.1", "app_1", "app_2")
	d.mustRun("teardown")
	if n := d.projectLeftovers(); n != "" {
		t.Fatalf("left behind after teardown: %s", n)
	}
	if _, err := os.Stat(d.dir); !os.IsNotExist(err) {
		t.Fatalf("%s is still there after teardown (%v)", d.dir, err)
	}
}

// projectLeftovers lists the project's containers, networks and volumes.
func (d *deploy) projectLeftovers() string {
	d.t.Helper()
	c, err := docker.Connect(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	label := make(client.Filters).Add("label", "com.docker.compose.project="+d.project)
	var left []string
	cs, err := c.API().ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label})
	if err != nil {
		d.t.Fatal(err)
	}
	for _, ct := range cs.Items {
		left = append(left, "container "+strings.Join(ct.Names, ","))
	}
	ns, err := c.API().NetworkList(ctx, client.NetworkListOptions{Filters: label})
	if err != nil {
		d.t.Fatal(err)
	}
	for _, n := range ns.Items {
		left = append(left, "network "+n.Name)
	}
	vs, err := c.API().VolumeList(ctx, client.VolumeListOptions{Filters: label})
	if err != nil {
		d.t.Fatal(err)
	}
	for _, v := range vs.Items {
		left = append(left, "volume "+v.Name)
	}
	return strings.Join(left, ", ")
}

// wrkResult is what wrk (from Debian's package, a client nobody here wrote)
// reports: requests, and the failures it counts.
type wrkResult struct {
	requests, non2xx              int
	connect, read, write, timeout int
	output                        string
}

func (w wrkResult) failed() int { return w.non2xx + w.connect + w.read + w.write + w.timeout }

// runWrk loads the proxy with wrk for the given time, one connection per
// request (a client that does not retry: a closed keep-alive connection
// would count against it, which is issue 13's proxy without reloads).
func (d *deploy) runWrk(duration time.Duration) <-chan wrkResult {
	d.t.Helper()
	path, err := exec.LookPath("wrk")
	if err != nil {
		d.t.Fatal("wrk is not installed (apt-get install wrk; `make test` and .ci/run install it)")
	}
	out := make(chan wrkResult, 1)
	go func() {
		b, err := exec.Command(path, "-t", "2", "-c", "40", "-d", fmt.Sprintf("%ds", int(duration.Seconds())),
			"-H", "Connection: close", d.url()).CombinedOutput()
		r := wrkResult{output: string(b)}
		if err != nil {
			r.output += "\nwrk: " + err.Error()
			r.connect = -1
		}
		for _, line := range strings.Split(r.output, "\n") {
			line = strings.TrimSpace(line)
			switch {
			case strings.Contains(line, "requests in"):
				fmt.Sscanf(line, "%d requests in", &r.requests)
			case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
				fmt.Sscanf(line, "Non-2xx or 3xx responses: %d", &r.non2xx)
			case strings.HasPrefix(line, "Socket errors:"):
				fmt.Sscanf(line, "Socket errors: connect %d, read %d, write %d, timeout %d", &r.connect, &r.read, &r.write, &r.timeout)
			}
		}
		out <- r
	}()
	return out
}

func TestUpgradeUnderWrk(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision", "version=0.0.1")
	res := d.runWrk(12 * time.Second)
	time.Sleep(time.Second)
	d.mustRun("upgrade", "version=0.0.2", "replicas=3")
	r := <-res
	t.Logf("wrk:\n%s", r.output)
	if r.requests == 0 || r.failed() != 0 {
		t.Fatalf("wrk: %d requests, %d failed (non-2xx %d, socket errors connect %d read %d write %d timeout %d)",
			r.requests, r.failed(), r.non2xx, r.connect, r.read, r.write, r.timeout)
	}
	d.wantServing("0.0.2", "app_1", "app_2", "app_3")
}
