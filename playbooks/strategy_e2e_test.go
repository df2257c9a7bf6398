package playbooks

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/errtest"
	"github.com/zdplay/zdplay/runner"
)

// Swarm's parallelism and delay: batches of 2 of 4 replicas, a pause
// between them, no request failed.
func TestUpgradeParallelismTwoOfFourWithDelay(t *testing.T) {
	d := newDeploy(t, "replicas=4", "parallelism=2", "delay=500ms")
	upgradeUnderLoad(t, d, "0.0.1", "0.0.2", 40, true)
	if !strings.Contains(d.log.String(), `compose_recreate "recreate" (app_1, app_2)`) ||
		!strings.Contains(d.log.String(), `compose_recreate "recreate" (app_3, app_4)`) {
		t.Fatalf("the upgrade did not go in batches of 2:\n%s", d.log)
	}
	if !strings.Contains(d.log.String(), "waiting 500ms before the next batch") {
		t.Fatal("no delay between batches")
	}
}

// A release that turns unhealthy 3 s after its first good health check is
// caught by the monitor period and rolled back, with no request failed.
func TestMonitorCatchesLateFailure(t *testing.T) {
	d := newDeploy(t, "monitor=6s")
	d.mustRun("provision")
	err := d.failingUpgradeUnderLoad("0.0.3-flaky")
	var failed *runner.TaskFailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.Error(), "rolled back to 0.0.1") {
		t.Fatalf("err = %v, want a rollback", err)
	}
	if !strings.Contains(d.log.String(), "monitor period") {
		t.Fatalf("the failure was not the monitor's:\n%s", d.log)
	}
	d.wantOnly("app@0.0.1")
}

// failure_action = "pause": the failed replica stays drained, the others
// serve, and the run says how to go on.
func TestFailureActionPause(t *testing.T) {
	d := newDeploy(t, "failure_action=pause", "health_timeout=3s")
	d.mustRun("provision")
	err := d.failingUpgradeUnderLoad("0.0.3-ping500")
	errtest.Says(t, err, "paused: release 0.0.3-ping500 failed on app_1", "-e version=0.0.1 to go back")
	conf, _ := os.ReadFile(filepath.Join(d.dir, "nginx", "default.conf"))
	if !regexp.MustCompile(`(?m)^\s+server [0-9.]+:3000 .* down; # app_1$`).Match(conf) {
		t.Fatalf("app_1 is not drained:\n%s", conf)
	}
	d.wantOnly("app@0.0.1")
	// Going back as the message says.
	d.mustRun("upgrade", "version=0.0.1")
	d.wantOnly("app@0.0.1")
}

// start-first with one replica: the surge replica serves before app_1 is
// drained, so the proxy always has a replica to send to (with HAProxy it
// takes a free slot and leaves it, drain then maint, before it is removed).
// The proxy's retry on the next replica is off: a moment with no replica in
// service would fail requests.
func TestStartFirstSingleReplica(t *testing.T) {
	forEachProxy(t, testStartFirstSingleReplica)
}

func testStartFirstSingleReplica(t *testing.T, proxy string) {
	d := newDeploy(t, "proxy="+proxy, "replicas=1", "order=start-first", "proxy_next_upstream=false")
	upgradeUnderLoad(t, d, "0.0.1", "0.0.2", 40, true)
	for _, step := range []string{`compose_recreate "recreate" (surge_1)`, `proxy "undrain" (surge_1)`, `compose_remove "retired" (surge_1)`} {
		if !strings.Contains(d.log.String(), step) {
			t.Fatalf("no %s in the upgrade:\n%s", step, d.log)
		}
	}
	d.wantNoSurge()
	// Converged: no surge comes back, nothing changes.
	d.log.Reset()
	d.mustConverge("upgrade", "version=0.0.2")
}

// start-first with a release that never turns healthy: the surge fails its
// health gate, is removed, and no replica was touched.
func TestStartFirstBadReleaseTouchesNothing(t *testing.T) {
	forEachProxy(t, testStartFirstBadReleaseTouchesNothing)
}

func testStartFirstBadReleaseTouchesNothing(t *testing.T, proxy string) {
	d := newDeploy(t, "proxy="+proxy, "order=start-first", "health_timeout=3s")
	d.mustRun("provision")
	before := d.containers()
	err := d.failingUpgradeUnderLoad("0.0.3-ping500")
	errtest.Says(t, err, "did not turn healthy on surge_1: no replica was touched")
	if after := d.containers(); !maps.Equal(before, after) {
		t.Fatalf("containers changed: %v -> %v", before, after)
	}
	d.wantNoSurge()
	d.wantOnly("app@0.0.1")
}

// wantNoSurge fails unless the surge is gone: no container, not in the
// compose file, not in nginx's conf nor in HAProxy's slots.
func (d *deploy) wantNoSurge() {
	d.t.Helper()
	c, err := docker.Connect(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	if ctr, err := c.ContainerOf(context.Background(), d.project, "surge_1"); !errors.Is(err, docker.ErrNoContainer) {
		d.t.Fatalf("surge_1 still has a container (%s): %v", ctr.Name, err)
	}
	for _, f := range []string{"docker-compose.yml", "nginx/default.conf", "haproxy/run/zdplay-slots.json"} {
		if b, _ := os.ReadFile(filepath.Join(d.dir, f)); strings.Contains(string(b), "surge_1") {
			d.t.Fatalf("%s still names the surge:\n%s", f, b)
		}
	}
}

// max_failure_ratio: 0.0.3-failfirst fails on the first replica that boots
// it only. With a ratio of 0.5 the failed replica goes back to 0.0.1 and
// serves, the upgrade goes on with the next, and the run fails naming it; a
// re-run retries it.
func TestMaxFailureRatioGoesOn(t *testing.T) {
	d := newDeploy(t, "max_failure_ratio=0.5", "health_timeout=3s")
	d.mustRun("provision")
	err := d.failingUpgradeUnderLoad("0.0.3-failfirst")
	errtest.Says(t, err, "failed on app_1, tolerated (max_failure_ratio 0.5")
	if seen := d.versionsServed(40); seen["app@0.0.1"] == 0 || seen["app@0.0.3"] == 0 || len(seen) != 2 {
		t.Fatalf("after the upgrade: %v, want app_1 on 0.0.1 and app_2 on 0.0.3", seen)
	}
	d.mustRun("upgrade", "version=0.0.3-failfirst")
	d.wantOnly("app@0.0.3")
}

// failure_action = "continue": every batch is tried whatever fails; each
// failed one goes back and serves; the run fails at the end.
func TestFailureActionContinue(t *testing.T) {
	d := newDeploy(t, "failure_action=continue", "health_timeout=3s")
	d.mustRun("provision")
	err := d.failingUpgradeUnderLoad("0.0.3-ping500")
	errtest.Says(t, err, "failure_action continue")
	for _, s := range []string{"app_1", "app_2"} {
		if !strings.Contains(d.log.String(), `wait_healthy "healthy" (`+s+`)`) {
			t.Fatalf("%s was not tried:\n%s", s, d.log)
		}
	}
	d.wantOnly("app@0.0.1")
}
