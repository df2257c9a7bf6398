package playbooks

// playbooks/compose.hcl deploys a user's own compose app (issue 12): the
// example under examples/shop, copied to a temp dir, under 40 clients.

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zdplay/zdplay/internal/errtest"
	"github.com/zdplay/zdplay/internal/probe"
	"github.com/zdplay/zdplay/runner"
)

// newShop copies examples/shop (compose.yaml, .env, web.env) into a temp dir
// and returns a deploy of it with compose.hcl.
func newShop(t *testing.T, vars ...string) (*deploy, string) {
	t.Helper()
	src := t.TempDir()
	for _, f := range []string{"compose.yaml", ".env", "web.env"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "shop", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(src, "compose.yaml")
	d := newDeploy(t, append([]string{"compose=" + file, "health_path=/healthz"}, vars...)...)
	d.playbook = "compose.hcl"
	return d, file
}

func wantVersions(t *testing.T, r *probe.Report, what string, versions ...string) {
	t.Helper()
	wantNoFailure(t, r, what)
	for _, v := range versions {
		if !versionSeen(r, v) {
			t.Fatalf("versions seen during %s: %+v, want %s", what, r.Versions, v)
		}
	}
}

func TestComposeAppProvisionUpgradeMigrate(t *testing.T) {
	forEachProxy(t, testComposeAppProvisionUpgradeMigrate)
}

func testComposeAppProvisionUpgradeMigrate(t *testing.T, proxy string) {
	d, file := newShop(t, "proxy="+proxy, `migrate=["migrate"]`)
	before, _ := os.ReadFile(file)
	// .env gives the tag (SHOP_TAG=1), as Compose reads it.
	d.mustRun("provision")
	d.wantOnly("shop@1")
	if body := d.get(); !strings.Contains(body, "schema=2") || !strings.Contains(body, "greeting=hello from web.env") {
		t.Fatalf("the migration did not run, or web.env was not read: %q", body)
	}
	others := d.serviceIDs("db", "worker", "proxy")
	d.log.Reset()
	var upgrade *runner.Recap
	report := d.underLoad(40, true, func() { upgrade = d.mustRun("upgrade", "version=2", "replicas=3") })
	wantVersions(t, report, "the upgrade of web to 2 with 3 replicas", "shop@1", "shop@2")
	wantProxySteps(t, proxy, upgrade, report)
	d.wantOnly("shop@2")
	if got := d.serviceIDs("db", "worker", "proxy"); !equalMaps(got, others) {
		t.Fatalf("other services were recreated: %v -> %v", others, got)
	}
	if got := d.serviceIDs("web_1", "web_2", "web_3"); len(got) != 3 {
		t.Fatalf("web replicas: %v", got)
	}
	log := d.log.String()
	// The first drain's batch is web_1, with web_3 when the new replica is
	// created in the same batch.
	migrate, drain := strings.Index(log, `compose_run "migrate"`), -1
	if loc := regexp.MustCompile(`proxy "drain" \(web_1[,)]`).FindStringIndex(log); loc != nil {
		drain = loc[0]
	}
	if migrate < 0 || drain < 0 || migrate > drain {
		t.Fatalf("the migration did not run before the first drain:\n%s", log)
	}
	if !strings.Contains(log, "taken over by the proxy") {
		t.Errorf("the recap does not say the proxy takes the host ports:\n%s", log)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Fatalf("the user's compose file changed:\n%s", after)
	}
	// Converged.
	d.mustConverge("upgrade", "version=2", "replicas=3")
	// -t rollback returns to the release before the upgrade, by the same
	// rollout, under load; the user's file still untouched.
	report = d.underLoad(40, true, func() { d.mustRun("rollback", "replicas=3") })
	wantVersions(t, report, "the rollback of web to 1", "shop@2", "shop@1")
	d.wantOnly("shop@1")
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Fatalf("the rollback changed the user's compose file:\n%s", after)
	}
}

func TestComposeAppBrokenReleaseAndMigration(t *testing.T) {
	forEachProxy(t, testComposeAppBrokenReleaseAndMigration)
}

func testComposeAppBrokenReleaseAndMigration(t *testing.T, proxy string) {
	d, _ := newShop(t, "proxy="+proxy, "health_timeout=4s")
	d.mustRun("provision")
	webs := d.serviceIDs("web_1", "web_2")
	// A migration that fails: nothing is drained nor recreated.
	_, err := d.run("upgrade", "version=2", `migrate=["no-such-step"]`)
	errtest.Says(t, err, "exited with code 2; nothing was drained")
	if got := d.serviceIDs("web_1", "web_2"); !equalMaps(got, webs) {
		t.Fatalf("replicas changed after a failed migration: %v -> %v", webs, got)
	}
	// A release whose health path answers 503: rolled back, 0 failed.
	var uerr error
	report := d.underLoad(40, true, func() { _, uerr = d.run("upgrade", "version=2-broken") })
	if uerr == nil || !strings.Contains(uerr.Error(), "rolled back to 1") {
		t.Fatalf("err = %v, want a rollback", uerr)
	}
	wantVersions(t, report, "the failed upgrade", "shop@1")
	d.wantOnly("shop@1")
}

func TestComposeAppContainerNameRefused(t *testing.T) {
	d, file := newShop(t)
	orig, _ := os.ReadFile(file)
	t.Cleanup(func() { _ = os.WriteFile(file, orig, 0o644) }) // for the teardown
	b := bytes.Replace(orig, []byte("    command: [\"web\"]\n"), []byte("    command: [\"web\"]\n    container_name: shop-web\n"), 1)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pb, diags := runner.Load("compose.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, diags, err := runner.Run(t.Context(), pb, runner.Options{ExtraVars: d.vars, Selection: runner.Selection{Tags: []string{"provision"}}})
	if !diags.HasErrors() || err != nil || !strings.Contains(diags.Error(), "container_name") {
		t.Fatalf("diags = %v, err = %v: want container_name refused before the run (exit 2)", diags, err)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "docker-compose.yml")); !os.IsNotExist(err) {
		t.Fatalf("something was written: %v", err)
	}
	if got := d.serviceIDs("db", "web_1", "proxy"); len(got) != 0 {
		t.Fatalf("containers were created: %v", got)
	}
}

// serviceIDs maps the named services that have a container to its ID.
func (d *deploy) serviceIDs(services ...string) map[string]string {
	d.t.Helper()
	out := map[string]string{}
	for s, id := range d.containersOf(services...) {
		out[s] = id
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
