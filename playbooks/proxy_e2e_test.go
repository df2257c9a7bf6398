package playbooks

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zdplay/zdplay/runner"
)

// bogusDirective is what brokenPlaybook adds to the nginx template.
const bogusDirective = "zdplay_no_such_directive"

// brokenPlaybook copies the shipped playbook tree as it is on disk now
// (playbooks/app.hcl and what it imports, roles/, templates/, same layout) into a temporary
// directory, adds to the copied nginx template's server block a directive
// nginx does not know, and returns the copied playbook's path.
func brokenPlaybook(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	for _, dir := range []string{"roles", "templates"} {
		if err := os.CopyFS(filepath.Join(tmp, dir), os.DirFS(filepath.Join("..", dir))); err != nil {
			t.Fatalf("copying %s: %v", dir, err)
		}
	}
	pb := filepath.Join(tmp, "playbooks", "app.hcl")
	if err := os.MkdirAll(filepath.Dir(pb), 0o755); err != nil {
		t.Fatal(err)
	}
	// app.hcl and what it imports: compose.hcl, the demo's compose file,
	// the variable files.
	shared, _ := filepath.Glob("*.vars.hcl")
	for _, f := range append(shared, "app.hcl", "compose.hcl", "demo.compose.yaml") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "playbooks", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tmpl := filepath.Join(tmp, "templates", "nginx.conf.tmpl")
	b, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	open := regexp.MustCompile(`(?m)^server\s*\{[^\n]*\n`).FindIndex(b)
	if open == nil {
		t.Fatalf("no `server {` line in templates/nginx.conf.tmpl to break:\n%s", b)
	}
	broken := fmt.Appendf(nil, "%s    %s on;\n%s", b[:open[1]], bogusDirective, b[open[1]:])
	if err := os.WriteFile(tmpl, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	return pb
}

// An upgrade run with a broken nginx template: nginx -t rejects the conf
// rendered to drain the first replica, the last good conf is put back, the
// run fails with nginx's message before any replica is recreated, and the
// proxy goes on serving the old release to steady load, not a request
// failed. The same upgrade with the shipped template then succeeds.
func TestBrokenNginxTemplateKeepsServing(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision")
	confPath := filepath.Join(d.dir, "nginx", "default.conf")
	goodConf, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	before := d.containers()

	d.playbook = brokenPlaybook(t)
	t.Cleanup(func() { d.playbook = "app.hcl" }) // teardown runs the shipped playbook

	var recap *runner.Recap
	var runStart, runEnd time.Time
	report := d.underLoad(40, true, func() {
		runStart = time.Now()
		recap, err = d.run("upgrade", "version=0.0.2")
		runEnd = time.Now()
	})
	t.Logf("the broken upgrade failed after %s: %v", runEnd.Sub(runStart).Round(time.Millisecond), err)

	var failed *runner.TaskFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("upgrade with a broken nginx template: err = %v, want a failed task", err)
	}
	for _, want := range []string{"unknown directive", bogusDirective, "restored the last good"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("upgrade with a broken nginx template: err = %v, want it to say %q", err, want)
		}
	}
	if failed.Result.Kind != "proxy" || failed.Result.Name != "drain" {
		t.Fatalf("the failed task is %s, want proxy \"drain\"", failed.Result.Title())
	}
	assertNoneChanged(t, recap, "compose_recreate")

	if now, _ := os.ReadFile(confPath); !bytes.Equal(now, goodConf) {
		t.Fatalf("%s is not the last good conf after nginx rejected the new one:\n%s\nwant:\n%s", confPath, now, goodConf)
	}
	if good, _ := os.ReadFile(confPath + ".good"); !bytes.Equal(good, goodConf) {
		t.Fatalf("%s.good changed:\n%s", confPath, good)
	}
	if after := d.containers(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("containers changed: %v, before %v", after, before)
	}

	// Steady load throughout: every whole second of the probe had answers,
	// from before the run started to after it ended, all at the old release.
	if report.Failed != 0 {
		t.Fatalf("%d of %d requests failed during the upgrade nginx rejected", report.Failed, report.Total)
	}
	if report.Total < 200 {
		t.Fatalf("only %d requests during the run: the proxy was not under steady load", report.Total)
	}
	for _, s := range report.Timeline[:len(report.Timeline)-1] { // the last second is partial
		if s.Requests == 0 {
			t.Fatalf("no request completed in second %d of the probe: %+v", s.Second, report.Timeline)
		}
	}
	if len(report.Versions) != 1 || report.Versions[0].Version != "app@0.0.1" {
		t.Fatalf("versions seen: %+v, want only app@0.0.1", report.Versions)
	}
	if v := report.Versions[0]; !v.FirstSeen.Before(runStart) || !v.LastSeen.After(runEnd) {
		t.Fatalf("app@0.0.1 answered from %s to %s, not throughout the run (%s to %s)",
			v.FirstSeen.Format(time.StampMilli), v.LastSeen.Format(time.StampMilli), runStart.Format(time.StampMilli), runEnd.Format(time.StampMilli))
	}
	// nginx kept its previous conf: both replicas in the upstream, none drained.
	if hosts := d.servingHosts(20, "app@0.0.1", "after the failed upgrade"); len(hosts) != 2 {
		t.Fatalf("after the failed upgrade answers came from %d replicas, want 2", len(hosts))
	}

	// Recoverable: with the shipped template the same upgrade goes through.
	d.playbook = "app.hcl"
	report = d.underLoad(40, true, func() { d.mustRun("upgrade", "version=0.0.2") })
	wantCleanSwitch(t, report, "the upgrade after the failed one", "0.0.1", "0.0.2")
	d.wantOnly("app@0.0.2")
	upgraded := d.containers()
	if upgraded["proxy"] != before["proxy"] || upgraded["db"] != before["db"] {
		t.Fatal("the upgrade recreated the proxy or the db")
	}
	if upgraded["app_1"] == before["app_1"] || upgraded["app_2"] == before["app_2"] {
		t.Fatal("a replica was not recreated")
	}
}
