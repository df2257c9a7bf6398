package playbooks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if !strings.Contains(d.log.String(), "pausing 500ms before the next item") {
		t.Fatal("no delay between batches")
	}
}

// A release that turns unhealthy 3 s after its first good health check is
// caught by the monitor period and rolled back, with no request failed.
func TestMonitorCatchesLateFailure(t *testing.T) {
	d := newDeploy(t, "monitor=6s")
	d.mustRun("provision")
	var err error
	report := d.underLoad(40, true, func() { _, err = d.run("upgrade", "version=0.0.3-flaky") })
	var failed *runner.TaskFailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.Error(), "rolled back to 0.0.1") {
		t.Fatalf("err = %v, want a rollback", err)
	}
	if !strings.Contains(d.log.String(), "monitor period") {
		t.Fatalf("the failure was not the monitor's:\n%s", d.log)
	}
	if report.Failed != 0 {
		t.Fatalf("%d of %d requests failed", report.Failed, report.Total)
	}
	if seen := d.versionsServed(20); seen["app@0.0.1"] != 20 {
		t.Fatalf("after the rollback: %v", seen)
	}
}

// failure_action = "pause": the failed replica stays drained, the others
// serve, and the run says how to go on.
func TestFailureActionPause(t *testing.T) {
	d := newDeploy(t, "failure_action=pause", "health_timeout=3s")
	d.mustRun("provision")
	var err error
	report := d.underLoad(40, true, func() { _, err = d.run("upgrade", "version=0.0.3-ping500") })
	if err == nil || !strings.Contains(err.Error(), "paused: release 0.0.3-ping500 failed on app_1") ||
		!strings.Contains(err.Error(), "-e version=0.0.1 to go back") {
		t.Fatalf("err = %v, want the pause message", err)
	}
	if report.Failed != 0 {
		t.Fatalf("%d of %d requests failed", report.Failed, report.Total)
	}
	conf, _ := os.ReadFile(filepath.Join(d.dir, "nginx", "default.conf"))
	if !strings.Contains(string(conf), "server app_1:3000 max_fails=0 down;") {
		t.Fatalf("app_1 is not drained:\n%s", conf)
	}
	if seen := d.versionsServed(20); seen["app@0.0.1"] != 20 {
		t.Fatalf("while paused: %v", seen)
	}
	// Going back as the message says.
	d.mustRun("upgrade", "version=0.0.1")
	if seen := d.versionsServed(20); seen["app@0.0.1"] != 20 {
		t.Fatalf("after going back: %v", seen)
	}
}
