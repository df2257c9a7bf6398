// Package playbooks holds the shipped playbooks; this file tests app.hcl end
// to end against the real Docker engine, real nginx and real HTTP load.
package playbooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/probe"
	"github.com/zdplay/zdplay/runner"
)

// skipReason is why the end-to-end tests cannot run ("" when they can).
var skipReason string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c, err := docker.Connect(ctx)
	cancel()
	if err != nil {
		skipReason = "no Docker engine reachable, end-to-end tests skipped: " + err.Error()
	} else {
		c.Close()
		// The images are built locally (no registry): idempotent, ~1 s when
		// up to date.
		build := exec.Command("bash", "../testdata/images/build.sh")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the test images failed:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	removeBinary() // built by zdplayBinary, for the tests that run zdplay as a process
	os.Exit(code)
}

// deploy is one project of the shipped playbook, with its own compose
// project name, port and directory, torn down when the test ends.
type deploy struct {
	playbookRuns
	project string
	port    int
	dir     string
}

// playbookRuns runs one playbook in process, as `zdplay run` would, for
// every harness here (deploy, swarmStack): the -e values each run gets
// first, and the output of all runs, which a failed test logs.
type playbookRuns struct {
	t        *testing.T
	playbook string // its path: app.hcl, compose.hcl, ...
	vars     []string
	log      *bytes.Buffer
}

func newDeploy(t *testing.T, vars ...string) *deploy {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), ""))
	d := &deploy{
		playbookRuns: playbookRuns{t: t, playbook: "app.hcl", log: &bytes.Buffer{}},
		project:      fmt.Sprintf("zde2e-%.20s-%04x", name, rand.IntN(1<<16)),
		port:         freePort(t),
		dir:          t.TempDir(),
	}
	d.vars = append([]string{"project=" + d.project, fmt.Sprintf("port=%d", d.port), "dir=" + d.dir}, vars...)
	t.Cleanup(func() {
		if _, err := d.run("teardown"); err != nil {
			t.Errorf("teardown: %v", err)
		}
		if t.Failed() {
			t.Logf("zdplay output:\n%s", d.log)
		}
	})
	return d
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run runs the playbook with the given tags ("": all, as no -t) and extra
// -e values.
func (r *playbookRuns) run(tags string, vars ...string) (*runner.Recap, error) {
	var opts runner.Options
	if tags != "" {
		opts.Selection = runner.Selection{Tags: []string{tags}}
	}
	return r.runOpts(opts, vars...)
}

func (r *playbookRuns) runOpts(opts runner.Options, vars ...string) (*runner.Recap, error) {
	recap, diags, err := r.runDiags(opts, vars...)
	if diags.HasErrors() {
		r.t.Fatal(diags)
	}
	return recap, err
}

// runMayBeInvalid is run that returns the playbook's diagnostics as its
// error: app.hcl loads the compose file (compose_app) before anything runs,
// so a value that breaks it is exit 2 with nothing run.
func (r *playbookRuns) runMayBeInvalid(tags string, vars ...string) (*runner.Recap, error) {
	recap, diags, err := r.runDiags(runner.Options{Selection: runner.Selection{Tags: []string{tags}}}, vars...)
	if diags.HasErrors() {
		return recap, diags
	}
	return recap, err
}

func (r *playbookRuns) runDiags(opts runner.Options, vars ...string) (*runner.Recap, hcl.Diagnostics, error) {
	pb, diags := runner.Load(r.playbook)
	if diags.HasErrors() {
		r.t.Fatal(diags)
	}
	opts.ExtraVars = append(append([]string{}, r.vars...), vars...)
	opts.Printer = &runner.TextPrinter{W: r.log}
	return runner.Run(context.Background(), pb, opts)
}

func (r *playbookRuns) mustRun(tags string, vars ...string) *runner.Recap {
	r.t.Helper()
	recap, err := r.run(tags, vars...)
	if err != nil {
		r.t.Fatalf("zdplay run %s -t %s %v: %v\n%s", r.playbook, tags, vars, err, r.log)
	}
	return recap
}

// mustConverge is mustRun of a run that must change nothing (changed=0):
// a re-run that finds done what an earlier one did.
func (r *playbookRuns) mustConverge(tags string, vars ...string) *runner.Recap {
	r.t.Helper()
	recap := r.mustRun(tags, vars...)
	if recap.Changed != 0 {
		r.t.Fatalf("zdplay run %s -t %s %v changed %d, want 0: %s\n%s", r.playbook, tags, vars, recap.Changed, recap.Summary(), r.log)
	}
	return recap
}

func (d *deploy) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", d.port) }

// get fetches / through the proxy: "app@0.0.1 from <host> (hits N)".
func (d *deploy) get() string {
	d.t.Helper()
	resp, err := http.Get(d.url())
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		d.t.Fatalf("GET %s: %s %s", d.url(), resp.Status, body)
	}
	return strings.TrimSpace(string(body))
}

// versionsServed GETs n times and counts the first word of each answer.
func (d *deploy) versionsServed(n int) map[string]int {
	seen := map[string]int{}
	for range n {
		seen[strings.Fields(d.get())[0]]++
	}
	return seen
}

// wantOnly fails unless 20 requests through the proxy all answer version
// ("app@0.0.1", "shop@2": the answer's first word).
func (d *deploy) wantOnly(version string) {
	d.t.Helper()
	if seen := d.versionsServed(20); seen[version] != 20 {
		d.t.Fatalf("the proxy served %v, want only %s", seen, version)
	}
}

// containers maps each service of the project to its container ID.
func (d *deploy) containers() map[string]string {
	d.t.Helper()
	services := []string{"proxy", "db"}
	for i := 1; i <= 4; i++ {
		services = append(services, fmt.Sprintf("app_%d", i))
	}
	return d.containersOf(services...)
}

// containersOf maps each of services that has a container to its ID.
func (d *deploy) containersOf(services ...string) map[string]string {
	d.t.Helper()
	c, err := docker.Connect(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	ids := map[string]string{}
	for _, s := range services {
		if ctr, err := c.ContainerOf(context.Background(), d.project, s); err == nil && ctr.ID != "" {
			ids[s] = ctr.ID
		}
	}
	return ids
}

// underLoad runs fn while `zdplay probe`'s engine sends clients through the
// proxy, and returns the probe's report.
func (d *deploy) underLoad(clients int, keepAlive bool, fn func()) *probe.Report {
	d.t.Helper()
	return d.underProbe(probe.Options{Concurrency: clients, KeepAlive: keepAlive}, fn)
}

// underProbe is underLoad with the probe's options (a POST load, say); URL
// and Duration are the deployment's.
func (d *deploy) underProbe(o probe.Options, fn func()) *probe.Report {
	d.t.Helper()
	o.URL, o.Duration = d.url(), 5*time.Minute
	return probeAround(d.t, o, 500*time.Millisecond, fn)
}

// probeAround runs fn under the probe o, settle of steady state before the
// change and after it, and logs the probe's report.
func probeAround(t *testing.T, o probe.Options, settle time.Duration, fn func()) *probe.Report {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var report *probe.Report
	var probeErr error
	var wg sync.WaitGroup
	wg.Go(func() { report, probeErr = probe.Run(ctx, o) })
	time.Sleep(settle)
	fn()
	time.Sleep(settle)
	cancel()
	wg.Wait()
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	var text bytes.Buffer
	_ = report.WriteText(&text)
	t.Logf("probe:\n%s", text.String())
	return report
}

// servingHosts GETs / through the proxy n times and returns the replicas
// (hosts) that answered; an answer of another release than want ("": any)
// fails the test, saying when.
func (d *deploy) servingHosts(n int, want, when string) map[string]bool {
	d.t.Helper()
	hosts := map[string]bool{}
	for range n {
		f := strings.Fields(d.get())
		if want != "" && f[0] != want {
			d.t.Fatalf("%s the proxy answers %q, want %s", when, f[0], want)
		}
		hosts[f[2]] = true
	}
	return hosts
}

// wantCleanSwitch fails unless no request failed while what went from one
// release to the other, and both answered.
func wantCleanSwitch(t *testing.T, r *probe.Report, what, from, to string) {
	t.Helper()
	if r.Failed != 0 || r.Total == 0 {
		t.Fatalf("%d of %d requests failed during %s %s -> %s", r.Failed, r.Total, what, from, to)
	}
	old, updated := "app@"+strings.Split(from, "-")[0], "app@"+strings.Split(to, "-")[0]
	if !versionSeen(r, old) || !versionSeen(r, updated) {
		t.Fatalf("versions seen during %s: %+v, want %s and %s", what, r.Versions, old, updated)
	}
}

func versionSeen(r *probe.Report, v string) bool {
	for _, s := range r.Versions {
		if s.Version == v && s.Count > 0 {
			return true
		}
	}
	return false
}

func statusOf(recap *runner.Recap, kind, name string) []string {
	var out []string
	for _, t := range recap.Tasks {
		if t.Kind == kind && (name == "" || t.Name == name) {
			out = append(out, t.Status)
		}
	}
	return out
}

func assertNoneChanged(t *testing.T, recap *runner.Recap, kind string) {
	t.Helper()
	for _, s := range statusOf(recap, kind, "") {
		if s == runner.StatusChanged {
			t.Fatalf("a %s task changed: %s", kind, recap.Summary())
		}
	}
}

// upgradeUnderLoad provisions `from`, upgrades to `to` under load and checks
// that no request failed, that both releases answered during the upgrade and
// only the new one after it.
func upgradeUnderLoad(t *testing.T, d *deploy, from, to string, clients int, keepAlive bool, vars ...string) {
	t.Helper()
	d.mustRun("provision", append([]string{"version=" + from}, vars...)...)
	report := d.underLoad(clients, keepAlive, func() {
		d.mustRun("upgrade", append([]string{"version=" + to}, vars...)...)
	})
	wantCleanSwitch(t, report, "the upgrade", from, to)
	updated := "app@" + strings.Split(to, "-")[0]
	d.wantOnly(updated)
}

// failingUpgradeUnderLoad upgrades the provisioned deployment under load to
// a release that fails (bad), checks that no request failed all the same,
// and returns the run's error for the test to check what it says.
func (d *deploy) failingUpgradeUnderLoad(bad string) error {
	d.t.Helper()
	var err error
	report := d.underLoad(40, true, func() { _, err = d.run("upgrade", "version="+bad) })
	if report.Failed != 0 {
		d.t.Fatalf("%d of %d requests failed during the upgrade to %s (err = %v)", report.Failed, report.Total, bad, err)
	}
	return err
}

// proxies are the proxies the upgrade, rollback, start-first and blue-green
// tests run against, each on a stack of its own.
var proxies = []string{"nginx", "haproxy"}

// forEachProxy runs fn as one subtest per proxy.
func forEachProxy(t *testing.T, fn func(t *testing.T, proxy string)) {
	for _, p := range proxies {
		t.Run(p, func(t *testing.T) { fn(t, p) })
	}
}

// wantProxySteps fails unless the run's proxy tasks said what they did:
// nginx rendered, validated and reloaded its conf; HAProxy drained over its
// runtime API and never reloaded, and no client had to retry.
func wantProxySteps(t *testing.T, proxy string, recap *runner.Recap, r *probe.Report) {
	t.Helper()
	var drains []string
	for _, task := range recap.Tasks {
		if task.Kind == "proxy" && task.Name == "drain" && task.Status == runner.StatusChanged {
			drains = append(drains, task.Msg)
		}
		if proxy == "haproxy" && task.Kind == "proxy" && strings.Contains(task.Msg, "reloaded") {
			t.Fatalf("%s reloaded haproxy: %s", task.Title(), task.Msg)
		}
	}
	if len(drains) == 0 {
		t.Fatalf("no proxy \"drain\" task changed anything: %s", recap.Summary())
	}
	want := map[string]string{"nginx": "validated, reloaded nginx", "haproxy": "drained, maint (drained "}[proxy]
	for _, m := range drains {
		if !strings.Contains(m, want) {
			t.Fatalf("a %s drain says %q, want it to say %q", proxy, m, want)
		}
	}
	if proxy == "haproxy" {
		wantNoRetry(t, r)
	}
}

func TestProvisionUpgradeRerunKeepAlive(t *testing.T) {
	forEachProxy(t, testProvisionUpgradeRerun)
}

func testProvisionUpgradeRerun(t *testing.T, proxy string) {
	d := newDeploy(t, "proxy="+proxy)
	d.mustRun("provision")

	// Both replicas answer through the proxy.
	if hosts := d.servingHosts(20, "app@0.0.1", "once provisioned"); len(hosts) != 2 {
		t.Fatalf("answers came from %d replicas, want 2", len(hosts))
	}
	before := d.containers()
	hitsBefore := hits(t, d.get())

	// --check on the pending upgrade says what would change, changes nothing.
	recap, err := d.runOpts(runner.Options{Check: true, Selection: runner.Selection{Tags: []string{"upgrade"}}}, "version=0.0.2")
	if err != nil {
		t.Fatalf("--check: %v\n%s", err, d.log)
	}
	if got := statusOf(recap, "compose_recreate", "recreate"); len(got) != 2 || got[0] != runner.StatusChanged || got[1] != runner.StatusChanged {
		t.Fatalf("--check: compose_recreate statuses %v, want both changed (would recreate)", got)
	}
	if after := d.containers(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("--check recreated containers")
	}
	if compose, _ := os.ReadFile(filepath.Join(d.dir, "docker-compose.yml")); !bytes.Contains(compose, []byte("app:0.0.1")) || bytes.Contains(compose, []byte("app:0.0.2")) {
		t.Fatal("--check rewrote the compose file")
	}

	var upgrade *runner.Recap
	report := d.underLoad(40, true, func() { upgrade = d.mustRun("upgrade", "version=0.0.2") })
	wantCleanSwitch(t, report, "the upgrade", "0.0.1", "0.0.2")
	wantProxySteps(t, proxy, upgrade, report)
	after := d.containers()
	if after["db"] != before["db"] || after["proxy"] != before["proxy"] {
		t.Fatal("the upgrade recreated the db or the proxy")
	}
	if after["app_1"] == before["app_1"] || after["app_2"] == before["app_2"] {
		t.Fatal("a replica was not recreated")
	}
	d.wantOnly("app@0.0.2")
	// The db kept its data: the hit counter went on.
	if h := hits(t, d.get()); h <= hitsBefore {
		t.Fatalf("hits went from %d to %d: the db lost its data", hitsBefore, h)
	}

	// A re-run at the same release touches nothing.
	recap = d.mustConverge("upgrade", "version=0.0.2")
	assertNoneChanged(t, recap, "proxy")
	if again := d.containers(); fmt.Sprint(again) != fmt.Sprint(after) {
		t.Fatal("re-run recreated containers")
	}
}

func hits(t *testing.T, body string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(body[strings.Index(body, "(hits"):], "(hits %d)", &n); err != nil {
		t.Fatalf("no hit count in %q: %v", body, err)
	}
	return n
}

func TestUpgradeKeepAliveOff(t *testing.T) {
	forEachProxy(t, func(t *testing.T, proxy string) {
		upgradeUnderLoad(t, newDeploy(t, "proxy="+proxy), "0.0.1", "0.0.2", 40, false)
	})
}

// Without the proxy's retry on the next replica the drain alone must carry
// it.
func TestUpgradeWithoutNextUpstreamRetry(t *testing.T) {
	forEachProxy(t, func(t *testing.T, proxy string) {
		upgradeUnderLoad(t, newDeploy(t, "proxy="+proxy, "proxy_next_upstream=false"), "0.0.1", "0.0.2", 40, true)
	})
}

func TestUpgradeThreeReplicasSlowBoot(t *testing.T) {
	forEachProxy(t, func(t *testing.T, proxy string) {
		upgradeUnderLoad(t, newDeploy(t, "proxy="+proxy, "replicas=3"), "0.0.1", "0.0.2-slowboot", 40, true)
	})
}

// Requests of 300 ms, to a release that serves them and then away from it:
// a drain of a replica busy with them waits for the ones in flight (nginx:
// its old workers; HAProxy: the server's sessions, which the recap counts).
func TestUpgradeSlowRequests(t *testing.T) {
	forEachProxy(t, func(t *testing.T, proxy string) {
		d := newDeploy(t, "proxy="+proxy)
		upgradeUnderLoad(t, d, "0.0.1", "0.0.2-slowreq", 40, true)
		d.log.Reset()
		report := d.underLoad(40, true, func() { d.mustRun("upgrade", "version=0.0.1") })
		wantCleanSwitch(t, report, "the upgrade away from slow requests", "0.0.2-slowreq", "0.0.1")
		if proxy == "haproxy" && !regexp.MustCompile(`drained [1-9][0-9]* session\(s\)`).MatchString(d.log.String()) {
			t.Fatalf("no HAProxy drain of a replica serving 300 ms requests saw a session in flight:\n%s", d.log)
		}
	})
}

// A release that never turns healthy, or crashes, is rolled back by the
// shipped playbook, with no request failed, and the run fails saying why.
func TestFailedReleaseRollsBack(t *testing.T) {
	forEachProxy(t, testFailedReleaseRollsBack)
}

func testFailedReleaseRollsBack(t *testing.T, proxy string) {
	for _, bad := range []string{"0.0.3-ping500", "0.0.3-crash"} {
		t.Run(bad, func(t *testing.T) {
			d := newDeploy(t, "proxy="+proxy, "health_timeout=4s")
			d.mustRun("provision")
			err := d.failingUpgradeUnderLoad(bad)
			var failed *runner.TaskFailedError
			if !errors.As(err, &failed) || !strings.Contains(failed.Error(), "rolled back to 0.0.1; wait_healthy \"healthy\" (app_1) failed:\n  wait_healthy: app_1") {
				t.Fatalf("upgrade to %s: err = %v, want a failure saying it rolled back", bad, err)
			}
			d.wantOnly("app@0.0.1")
		})
	}
}

// Bad input fails before anything is drained or stopped.
func TestBadInputFailsBeforeDraining(t *testing.T) {
	d := newDeploy(t)
	d.mustRun("provision")
	before := d.containers()
	conf, _ := os.ReadFile(filepath.Join(d.dir, "nginx", "default.conf"))

	cases := []struct {
		name string
		vars []string
		env  map[string]string
		want string
	}{
		{"image not present", []string{"version=9.9.9"}, nil, "zdplay-demo/app:9.9.9"},
		{"invalid compose YAML", []string{"version=0.0.2", "app_memory=1m\n  bogus: [unclosed"}, nil, "does not load"},
		{"unreachable daemon", []string{"version=0.0.2"}, map[string]string{"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, "dockerd"},
		{"invalid strategy", []string{"version=0.0.2", "order=sideways"}, nil, `order is "sideways"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			recap, err := d.runMayBeInvalid("upgrade", c.vars...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if recap != nil && len(statusOf(recap, "proxy", "drain"))+len(statusOf(recap, "compose_recreate", "")) != 0 {
				t.Fatalf("a drain or a recreate ran before the bad input was caught: %s", recap.Summary())
			}
		})
	}
	if after := d.containers(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("containers changed")
	}
	if now, _ := os.ReadFile(filepath.Join(d.dir, "nginx", "default.conf")); !bytes.Equal(now, conf) {
		t.Fatal("the nginx conf changed")
	}
}
