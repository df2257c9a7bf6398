package playbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdplay/zdplay/internal/errtest"
)

// releaseFile reads one of the release records the playbook keeps in dir.
func (d *deploy) releaseFile(name string) string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, name))
	if err != nil {
		d.t.Fatalf("%s: %v", name, err)
	}
	return strings.TrimSpace(string(b))
}

// -t rollback returns a healthy deployment to the release before the last
// successful upgrade, one replica at a time, without a failed request; a
// second rollback changes nothing, and a later failed upgrade returns to the
// release rolled back to.
func TestRollbackOnDemand(t *testing.T) {
	forEachProxy(t, testRollbackOnDemand)
}

func testRollbackOnDemand(t *testing.T, proxy string) {
	d := newDeploy(t, "proxy="+proxy, "health_timeout=4s")
	d.mustRun("provision")
	provisioned := d.containers()

	// Nothing to roll back to yet: it fails before changing anything.
	_, err := d.run("rollback")
	errtest.Says(t, err, "nothing to roll back to")
	if now := d.containers(); fmt.Sprint(now) != fmt.Sprint(provisioned) {
		t.Fatal("a refused rollback changed containers")
	}

	d.mustRun("upgrade", "version=0.0.2")
	if prev, good := d.releaseFile("previous-release"), d.releaseFile("last-good-release"); prev != "0.0.1" || good != "0.0.2" {
		t.Fatalf("after the upgrade: previous-release %q, last-good-release %q, want 0.0.1 and 0.0.2", prev, good)
	}
	upgraded := d.containers()

	// Rollback with upgrade asks for two releases: refused, nothing changed.
	_, err = d.run("upgrade,rollback")
	errtest.Says(t, err, "ask for one of them")
	if now := d.containers(); fmt.Sprint(now) != fmt.Sprint(upgraded) {
		t.Fatal("a refused -t upgrade,rollback changed containers")
	}

	report := d.underLoad(40, true, func() {
		if recap := d.mustRun("rollback"); recap.Changed == 0 {
			t.Fatalf("rollback changed nothing: %s", recap.Summary())
		}
	})
	wantCleanSwitch(t, report, "the rollback", "0.0.2", "0.0.1")
	d.wantOnly("app@0.0.1")
	rolledBack := d.containers()
	if rolledBack["db"] != upgraded["db"] || rolledBack["proxy"] != upgraded["proxy"] {
		t.Fatal("the rollback recreated the db or the proxy")
	}
	if good := d.releaseFile("last-good-release"); good != "0.0.1" {
		t.Fatalf("after the rollback last-good-release says %q, want 0.0.1", good)
	}

	// Converged: a second rollback changes nothing.
	d.mustConverge("rollback")
	if again := d.containers(); fmt.Sprint(again) != fmt.Sprint(rolledBack) {
		t.Fatal("the second rollback recreated containers")
	}

	// A failed upgrade now returns to the release rolled back to.
	_, err = d.run("upgrade", "version=0.0.3-crash")
	errtest.Says(t, err, "rolled back to 0.0.1")
	d.wantOnly("app@0.0.1")
}
