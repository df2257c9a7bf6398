// Command bench is `make bench`: it measures, on this machine and in one run,
// zero-downtime upgrades of the demo stack (playbooks/app.hcl) under the same
// load, 40 keep-alive clients through the proxy (internal/probe, in process):
//
//   - zdplay: `bin/zdplay run playbooks/app.hcl -t upgrade -e version=0.0.2`
//     after a provision at 0.0.1, with 2 and 4 replicas, and with 12 in
//     batches of 4; with nginx (the default) and with -e proxy=haproxy,
//     under GET clients and under POST clients (which no client retries on
//     a connection the proxy closed);
//   - the floor: the same steps as a plain script (bench/floor.sh) against
//     the same stack provisioned by zdplay: the least any tool can take;
//   - the seed-002 design: ansible-playbook + docker-compose v1 with the same
//     templates in Jinja2 (bench/ansible/), when ansible-playbook is installed;
//   - zdplay's own overhead: a run that selects no task, and a converged
//     re-run of the whole playbook (which must change nothing).
//
// It writes bench/results.json, bench/RESULTS.md and one SVG chart per
// upgrade (the probe's timeline). Every stack has its own compose project,
// zdbench-NAME, on its own port of 127.0.0.1, set up fresh and torn down after.
//
// Run it from the repository root after `make build images`:
//
//	go run ./bench [-rounds 2] [-cases zdplay-2,floor-2] [-out bench]
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zdplay/zdplay/internal/probe"
)

// config is the command line.
type config struct {
	out        string
	zdplay     string
	playbook   string
	work       string
	clients    int
	steady     time.Duration
	tail       time.Duration
	rounds     int
	noopRuns   int
	convRuns   int
	basePort   int
	cases      string
	fromVer    string
	toVer      string
	skipAnsibl bool
	renderOnly bool
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "bench", "where results.json, RESULTS.md and the SVG charts go")
	flag.StringVar(&c.zdplay, "zdplay", "bin/zdplay", "the zdplay binary (make build)")
	flag.StringVar(&c.playbook, "playbook", "playbooks/app.hcl", "the shipped playbook")
	flag.StringVar(&c.work, "work", ".zdplay/bench", "where the stacks' rendered files go")
	flag.IntVar(&c.clients, "clients", 40, "probe clients (keep-alive)")
	flag.DurationVar(&c.steady, "steady", 3*time.Second, "load before the upgrade starts (steady-state p99)")
	flag.DurationVar(&c.tail, "tail", time.Second, "load after the upgrade returned")
	flag.IntVar(&c.rounds, "rounds", 3, "upgrades per zdplay and floor case (the median is reported)")
	flag.IntVar(&c.noopRuns, "noop-runs", 15, "no-op runs (median)")
	flag.IntVar(&c.convRuns, "converged-runs", 7, "converged re-runs (median)")
	flag.IntVar(&c.basePort, "port", 18100, "first proxy port on 127.0.0.1")
	flag.StringVar(&c.cases, "cases", "", "comma list of cases to run (default all): "+strings.Join(caseNames(), ","))
	flag.StringVar(&c.fromVer, "from", "0.0.1", "release provisioned first")
	flag.StringVar(&c.toVer, "to", "0.0.2", "release upgraded to")
	flag.BoolVar(&c.skipAnsibl, "skip-ansible", false, "do not run the seed-002 Ansible design")
	flag.BoolVar(&c.renderOnly, "render-only", false, "only rewrite RESULTS.md from an existing results.json")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// spec is one kind of upgrade measured.
type spec struct {
	Name     string // zdplay-2
	Tool     string // zdplay | floor | floor-compose | ansible
	Replicas int
	Rounds   int
	Vars     []string // more NAME=VALUE for provision and upgrade
	To       string   // release upgraded to, when not -to
	Method   string   // the clients' method, "" = GET
	// FailuresReported: the case measures failures the design is known to
	// let through (nginx's reloads under POST clients), so they are stated
	// as measured and do not count against the 0-failed targets.
	FailuresReported bool
}

// allSpecs: zdplay against the floor with 2 and 4 replicas (the 4-replica
// ones a round less: they take twice as long), zdplay in batches of 2, the
// seed-002 design once; then
// the seed-002 design and zdplay with nginx's retry on the next upstream
// switched off, which shows what each design itself does for the clients,
// also with a release that takes 2 s to boot (0.0.2-slowboot); and zdplay's
// start-first order (a surge replica serves first), with 2 replicas and
// with a single one without the retry, where stop-first drops requests.
// Then issue 13's: -e proxy=haproxy beside each nginx case it is compared
// with (2 and 4 replicas under GET clients; 2 and 4 under POST clients,
// which net/http never retries on a closed connection, with the proxies'
// own retries off, nginx's 2 beside them), and 12 replicas in batches of 4
// with either proxy.
func allSpecs(rounds int) []spec {
	r4 := max(1, rounds-1)
	noRetry := []string{"proxy_next_upstream=false"}
	haproxy := []string{"proxy=haproxy"}
	haproxyNoRetry := []string{"proxy=haproxy", "proxy_next_upstream=false"}
	post := http.MethodPost
	return []spec{
		{Name: "zdplay-2", Tool: "zdplay", Replicas: 2, Rounds: rounds},
		{Name: "haproxy-2", Tool: "zdplay", Replicas: 2, Rounds: rounds, Vars: haproxy},
		{Name: "floor-2", Tool: "floor", Replicas: 2, Rounds: rounds},
		{Name: "zdplay-4", Tool: "zdplay", Replicas: 4, Rounds: r4},
		{Name: "haproxy-4", Tool: "zdplay", Replicas: 4, Rounds: r4, Vars: haproxy},
		{Name: "floor-4", Tool: "floor", Replicas: 4, Rounds: r4},
		// POST clients: nginx's reloads close idle client connections, which
		// a POST client does not retry; its failures are the measurement.
		{Name: "zdplay-2-post-noretry", Tool: "zdplay", Replicas: 2, Rounds: r4, Vars: noRetry, Method: post, FailuresReported: true},
		{Name: "haproxy-2-post-noretry", Tool: "zdplay", Replicas: 2, Rounds: r4, Vars: haproxyNoRetry, Method: post},
		{Name: "haproxy-4-post-noretry", Tool: "zdplay", Replicas: 4, Rounds: r4, Vars: haproxyNoRetry, Method: post},
		// zdplay's rollout in batches of 2 (-e parallelism=2): half the
		// capacity during a batch, so not the same trade as the others.
		{Name: "zdplay-4-parallel2", Tool: "zdplay", Replicas: 4, Rounds: 1, Vars: []string{"parallelism=2"}},
		// 12 replicas (1.5 GiB of memory limits, 12 processes on 2 cores) in
		// batches of 4: a third of the capacity out at a time.
		{Name: "zdplay-12-parallel4", Tool: "zdplay", Replicas: 12, Rounds: 1, Vars: []string{"parallelism=4"}},
		{Name: "haproxy-12-parallel4", Tool: "zdplay", Replicas: 12, Rounds: 1, Vars: []string{"proxy=haproxy", "parallelism=4"}},
		{Name: "floor-compose-2", Tool: "floor-compose", Replicas: 2, Rounds: 1},
		{Name: "ansible-2", Tool: "ansible", Replicas: 2, Rounds: 1},
		{Name: "ansible-4", Tool: "ansible", Replicas: 4, Rounds: 1},
		{Name: "ansible-2-noretry", Tool: "ansible", Replicas: 2, Rounds: 1, Vars: noRetry},
		{Name: "zdplay-2-slowboot-noretry", Tool: "zdplay", Replicas: 2, Rounds: 1, Vars: noRetry, To: "0.0.2-slowboot"},
		{Name: "ansible-2-slowboot-noretry", Tool: "ansible", Replicas: 2, Rounds: 1, Vars: noRetry, To: "0.0.2-slowboot"},
		{Name: "zdplay-2-startfirst", Tool: "zdplay", Replicas: 2, Rounds: 1, Vars: []string{"order=start-first"}},
		{Name: "zdplay-1-startfirst-noretry", Tool: "zdplay", Replicas: 1, Rounds: 1, Vars: append(slices.Clone(noRetry), "order=start-first")},
	}
}

func caseNames() []string {
	var n []string
	for _, s := range allSpecs(1) {
		n = append(n, s.Name)
	}
	return append(n, "overhead")
}

func run(ctx context.Context, c config) error {
	if c.renderOnly {
		return render(c.out)
	}
	for _, f := range []string{c.zdplay, c.playbook, "bench/floor.sh", "bench/ansible/app.yml"} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (run from the repository root, after make build)", err)
		}
	}
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("no Docker engine answers: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(c.work, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for n := range strings.SplitSeq(c.cases, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if !slices.Contains(caseNames(), n) {
				return fmt.Errorf("unknown case %q (known: %s)", n, strings.Join(caseNames(), ", "))
			}
			want[n] = true
		}
	}
	selected := func(n string) bool { return len(want) == 0 || want[n] }

	res := &Results{Started: time.Now().UTC(), Env: environment(ctx, c), Clients: c.clients,
		SteadyS: c.steady.Seconds(), TailS: c.tail.Seconds(), From: c.fromVer, To: c.toVer}
	ansible, ansibleWhy := ansibleAvailable(ctx)
	if c.skipAnsibl {
		ansible, ansibleWhy = false, "skipped (-skip-ansible)"
	}
	res.Env.Ansible = ansibleWhy

	// Round r of every case before round r+1 of any: drifts in the shared
	// machine's load spread over the tools instead of favouring one.
	port := c.basePort
	var specs []spec
	var cases []*Case
	for _, s := range allSpecs(c.rounds) {
		if !selected(s.Name) {
			continue
		}
		cs := &Case{Name: s.Name, Tool: s.Tool, Replicas: s.Replicas, Vars: s.Vars, To: s.To, Method: s.Method, FailuresReported: s.FailuresReported}
		res.Cases = append(res.Cases, cs)
		if s.Tool == "ansible" && !ansible {
			cs.Skipped = ansibleWhy
			logf("%s: skipped: %s", s.Name, ansibleWhy)
			continue
		}
		specs, cases = append(specs, s), append(cases, cs)
	}
	for r := range c.rounds {
		for i, s := range specs {
			if r >= s.Rounds || ctx.Err() != nil {
				continue
			}
			cases[i].Rounds = append(cases[i].Rounds, upgradeOnce(ctx, c, s, port+1+i, r))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, cs := range cases {
		cs.summarize(c.out)
	}
	port += len(specs)
	if selected("overhead") && ctx.Err() == nil {
		port++
		res.Overhead = overhead(ctx, c, port)
	}
	res.Elapsed = time.Since(res.Started).Seconds()
	res.evaluate()
	if err := writeJSON(filepath.Join(c.out, "results.json"), res); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "RESULTS.md"), []byte(res.markdown(c.out)), 0o644); err != nil {
		return err
	}
	logf("wrote %s/results.json and %s/RESULTS.md in %.0fs", c.out, c.out, res.Elapsed)
	return ctx.Err()
}

// render rewrites RESULTS.md (targets and ratios included) from results.json.
func render(out string) error {
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s/results.json: %w", out, err)
	}
	res.Ratios, res.Targets = nil, nil
	res.evaluate()
	if err := writeJSON(filepath.Join(out, "results.json"), &res); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "RESULTS.md"), []byte(res.markdown(out)), 0o644)
}

// stack is one compose project of the bench.
type stack struct {
	c        config
	project  string
	dir      string
	port     int
	replicas int
	extra    []string // -e flags of every run
}

func newStack(c config, name string, port, replicas int) *stack {
	p := "zdbench-" + name
	return &stack{c: c, project: p, dir: filepath.Join(c.work, p), port: port, replicas: replicas}
}

func (s *stack) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", s.port) }

// vars are the -e flags of every zdplay run on this stack.
func (s *stack) vars(version string) []string {
	return append([]string{"-e", "project=" + s.project, "-e", "dir=" + s.dir, "-e", fmt.Sprintf("port=%d", s.port),
		"-e", fmt.Sprintf("replicas=%d", s.replicas), "-e", "version=" + version}, s.extra...)
}

func (s *stack) zdplay(ctx context.Context, args ...string) cmdResult {
	return runCmd(ctx, nil, s.c.zdplay, append([]string{"run", s.c.playbook}, args...)...)
}

func (s *stack) ansible(ctx context.Context, timings string, args ...string) cmdResult {
	env := []string{
		"ANSIBLE_CALLBACK_PLUGINS=bench/ansible/callback_plugins", "ANSIBLE_CALLBACKS_ENABLED=zdbench_timing",
		"ZDBENCH_TIMINGS=" + timings, "ANSIBLE_LOCALHOST_WARNING=false", "ANSIBLE_INVENTORY_UNPARSED_WARNING=false",
		"ANSIBLE_RETRY_FILES_ENABLED=false", "ANSIBLE_NOCOLOR=1", "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3",
	}
	base := []string{"-i", "localhost,", "-c", "local", "bench/ansible/app.yml",
		"-e", "project=" + s.project, "-e", "dir=" + s.dir, "-e", fmt.Sprintf("port=%d", s.port),
		"-e", fmt.Sprintf("replicas=%d", s.replicas)}
	base = append(base, s.extra...)
	return runCmd(ctx, env, "ansible-playbook", append(base, args...)...)
}

// teardown removes the stack with zdplay's teardown, then anything of the
// project that is left (containers made outside Compose, or by docker-compose
// v1), by its exact project label. It returns what the fallback removed.
func (s *stack) teardown(ctx context.Context) string {
	// A fresh context: the stack goes even when the bench is interrupted.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	r := s.zdplay(ctx, "-t", "teardown", "-e", "project="+s.project, "-e", "dir="+s.dir)
	var left []string
	if ids := strings.Fields(dockerOut(ctx, "ps", "-aq", "--filter", "label=com.docker.compose.project="+s.project)); len(ids) > 0 {
		dockerOut(ctx, append([]string{"rm", "-f"}, ids...)...)
		left = append(left, fmt.Sprintf("%d container(s)", len(ids)))
	}
	if ids := strings.Fields(dockerOut(ctx, "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+s.project)); len(ids) > 0 {
		dockerOut(ctx, append([]string{"network", "rm"}, ids...)...)
		left = append(left, "network")
	}
	if ids := strings.Fields(dockerOut(ctx, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+s.project)); len(ids) > 0 {
		dockerOut(ctx, append([]string{"volume", "rm", "-f"}, ids...)...)
		left = append(left, "volume")
	}
	os.RemoveAll(s.dir)
	msg := ""
	if r.err != nil {
		msg = "zdplay teardown failed: " + r.brief() + "; "
	}
	if len(left) > 0 {
		msg += "removed by label after zdplay's teardown: " + strings.Join(left, ", ")
	}
	return msg
}

// ready waits until every replica is healthy and the proxy answers 200 five
// times in a row.
func (s *stack) ready(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	streak := 0
	for time.Now().Before(deadline) {
		healthy := len(strings.Fields(dockerOut(ctx, "ps", "-q", "--filter", "label=com.docker.compose.project="+s.project, "--filter", "health=healthy")))
		ok := false
		if resp, err := hc.Get(s.url()); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ok = resp.StatusCode == 200
		}
		if ok && healthy >= s.replicas {
			streak++
			if streak >= 5 {
				return nil
			}
		} else {
			streak = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 90s", s.project)
}

// versions maps each app service to the image its container runs.
func (s *stack) versions(ctx context.Context) map[string]string {
	out := dockerOut(ctx, "ps", "--filter", "label=com.docker.compose.project="+s.project,
		"--format", `{{.Label "com.docker.compose.service"}} {{.Image}}`)
	m := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "app_") {
			m[f[0]] = f[1]
		}
	}
	return m
}

// upgradeOnce provisions a fresh stack, loads it for c.steady, upgrades it
// with the tool under the same load, loads it c.tail more, and tears it down.
func upgradeOnce(ctx context.Context, c config, sp spec, port, round int) *Round {
	st := newStack(c, strings.ReplaceAll(sp.Name, "-", ""), port, sp.Replicas)
	for _, v := range sp.Vars {
		st.extra = append(st.extra, "-e", v)
	}
	to := cmp.Or(sp.To, c.toVer)
	rr := &Round{Round: round + 1, Project: st.project, Port: port, Load: loadavg(), OtherContainers: otherContainers(ctx)}
	logf("%s round %d: project %s on 127.0.0.1:%d (load %s, %d other containers running)", sp.Name, round+1, st.project, port, rr.Load, rr.OtherContainers)
	defer func() {
		if msg := st.teardown(ctx); msg != "" {
			rr.Notes = append(rr.Notes, msg)
		}
	}()
	st.teardown(ctx) // leftovers of an interrupted bench

	// Provision at the old release.
	t0 := time.Now()
	var pr cmdResult
	timings := filepath.Join(c.work, st.project+".timings.jsonl")
	os.Remove(timings)
	provision := func() cmdResult {
		if sp.Tool == "ansible" {
			return st.ansible(ctx, timings, "-t", "provision", "-e", "version="+c.fromVer)
		}
		return st.zdplay(ctx, append([]string{"-t", "provision"}, st.vars(c.fromVer)...)...)
	}
	// The provision is not what is measured: one that fails is stated in
	// the notes and tried once more on a fresh stack, so that the upgrade
	// is still measured.
	if pr = provision(); pr.err != nil && ctx.Err() == nil {
		rr.Notes = append(rr.Notes, "provision failed and was retried once on a fresh stack: "+pr.brief())
		logf("  provision failed, retrying once: %s", pr.brief())
		st.teardown(ctx)
		pr = provision()
	}
	if pr.err != nil {
		rr.Error = "provision failed: " + pr.brief()
		logf("  %s", rr.Error)
		return rr
	}
	if err := st.ready(ctx); err != nil {
		rr.Error = "provision: " + err.Error()
		return rr
	}
	rr.ProvisionS = time.Since(t0).Seconds()
	os.Remove(timings)

	// Steady state, then the upgrade, then the tail: three probe runs back
	// to back, so that each phase has its own exact percentiles.
	po := probe.Options{URL: st.url(), Concurrency: c.clients, KeepAlive: true, Duration: c.steady, Method: sp.Method}
	if sp.Method == http.MethodPost {
		po.Body = "x" // as `zdplay probe --method POST --body x`
	}
	steady, err := probe.Run(ctx, po)
	if err != nil {
		rr.Error = err.Error()
		return rr
	}
	upCtx, stopLoad := context.WithCancel(ctx)
	upDone := make(chan *probe.Report, 1)
	go func() {
		o := po
		o.Duration = 0
		r, _ := probe.Run(upCtx, o)
		upDone <- r
	}()
	var ur cmdResult
	switch sp.Tool {
	case "zdplay":
		ur = st.zdplay(ctx, append([]string{"-t", "upgrade", "-o", "json"}, st.vars(to)...)...)
	case "floor":
		ur = runCmd(ctx, nil, "bash", "bench/floor.sh", st.project, st.dir, strconv.Itoa(st.replicas), to, "docker")
	case "floor-compose":
		ur = runCmd(ctx, nil, "bash", "bench/floor.sh", st.project, st.dir, strconv.Itoa(st.replicas), to, "compose")
	case "ansible":
		ur = st.ansible(ctx, timings, "-t", "upgrade", "-e", "version="+to)
	}
	stopLoad()
	upgrade := <-upDone
	po.Duration = c.tail
	tail, _ := probe.Run(ctx, po)

	rr.WallS = ur.wall.Seconds()
	rr.ExitOK = ur.err == nil
	if ur.err != nil {
		rr.Error = "upgrade failed: " + ur.brief()
		logf("  %s", rr.Error)
	}
	rr.Steady, rr.Upgrade, rr.Tail = phaseOf(steady), phaseOf(upgrade), phaseOf(tail)
	rr.Failed = rr.Upgrade.Failed + rr.Tail.Failed
	rr.merged = merge(steady, upgrade, tail)

	// Converged: every replica runs the new release, and the load after the
	// upgrade saw only it.
	want := "zdplay-demo/app:" + to
	rr.Images = st.versions(ctx)
	rr.Converged = len(rr.Images) == st.replicas
	for _, img := range rr.Images {
		rr.Converged = rr.Converged && img == want
	}
	// The app answers "app@" + the tag up to any dash.
	release, _, _ := strings.Cut(to, "-")
	for _, v := range tail.Versions {
		rr.Converged = rr.Converged && v.Version == "app@"+release
	}

	switch sp.Tool {
	case "zdplay":
		rr.Steps, rr.Tasks = zdplaySteps(ur)
	case "floor", "floor-compose":
		rr.Steps = floorSteps(ur)
	case "ansible":
		rr.Steps, rr.UndrainGapsS = ansibleSteps(timings, ur.wall)
	}
	logf("  upgrade %.2fs, %d requests, %d failed, p99 steady %.0fms upgrade %.0fms, converged %v",
		rr.WallS, rr.Upgrade.Requests+rr.Tail.Requests, rr.Failed, rr.Steady.P99Ms, rr.Upgrade.P99Ms, rr.Converged)
	return rr
}

// overhead measures zdplay's no-op run and converged re-run on a provisioned
// stack, and the bare process start (`zdplay version`) for reference.
func overhead(ctx context.Context, c config, port int) *Overhead {
	st := newStack(c, "overhead", port, 2)
	o := &Overhead{Project: st.project}
	logf("overhead: project %s on 127.0.0.1:%d", st.project, port)
	defer func() {
		if msg := st.teardown(ctx); msg != "" {
			o.Notes = append(o.Notes, msg)
		}
	}()
	st.teardown(ctx)
	if r := st.zdplay(ctx, append([]string{"-t", "provision"}, st.vars(c.fromVer)...)...); r.err != nil {
		o.Error = "provision failed: " + r.brief()
		logf("  %s", o.Error)
		return o
	}
	if err := st.ready(ctx); err != nil {
		o.Error = err.Error()
		logf("  %s", o.Error)
		return o
	}

	// The bare process: exec, Go runtime and package init, cobra.
	for range c.noopRuns {
		r := runCmd(ctx, nil, c.zdplay, "version")
		o.VersionMs = append(o.VersionMs, ms(r.wall))
		o.VersionCPUMs = append(o.VersionCPUMs, ms(r.cpu))
	}
	// --skip-tags all: every task carries the implicit tag `all`, so nothing
	// is selected, and no error (a -t naming a tag no task has is an error;
	// -t never would select the teardown role).
	noop := append([]string{"--skip-tags", "all", "-o", "json"}, st.vars(c.fromVer)...)
	for range c.noopRuns {
		r := st.zdplay(ctx, noop...)
		o.NoopMs = append(o.NoopMs, ms(r.wall))
		o.NoopCPUMs = append(o.NoopCPUMs, ms(r.cpu))
		var j zdJSON
		if json.Unmarshal([]byte(r.stdout), &j) == nil {
			o.NoopInternalMs = append(o.NoopInternalMs, float64(j.ElapsedNs)/1e6)
			if len(j.Tasks) > 0 {
				o.Error = fmt.Sprintf("--skip-tags all ran %d task(s)", len(j.Tasks))
			}
		}
		if r.err != nil {
			o.Error = "no-op run failed: " + r.brief()
		}
	}

	// The whole playbook again, converged: nothing may change.
	before := dockerOut(ctx, "ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project="+st.project)
	workersBefore := dockerOut(ctx, "top", st.project+"-proxy-1", "-o", "pid,args")
	tasks := map[string][]float64{}
	for range c.convRuns {
		r := st.zdplay(ctx, append([]string{"-o", "json"}, st.vars(c.fromVer)...)...)
		o.ConvergedMs = append(o.ConvergedMs, ms(r.wall))
		o.ConvergedCPUMs = append(o.ConvergedCPUMs, ms(r.cpu))
		var j zdJSON
		if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.err != nil {
			o.Error = "converged run failed: " + r.brief()
			continue
		}
		o.ConvergedInternalMs = append(o.ConvergedInternalMs, float64(j.ElapsedNs)/1e6)
		o.ConvergedChanged = max(o.ConvergedChanged, j.Changed)
		for _, t := range j.Tasks {
			k := t.Role + ": " + t.Kind + " " + strconv.Quote(t.Name)
			if t.Item != "" {
				k += " [" + t.Item + "]"
			}
			tasks[k] = append(tasks[k], float64(t.DurationNs)/1e6)
		}
	}
	after := dockerOut(ctx, "ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project="+st.project)
	workersAfter := dockerOut(ctx, "top", st.project+"-proxy-1", "-o", "pid,args")
	o.ConvergedRecreated = before != after
	o.ConvergedReloaded = workersBefore != workersAfter
	for k, v := range tasks {
		o.ConvergedTasks = append(o.ConvergedTasks, TaskTime{Task: k, Ms: median(v)})
	}
	slices.SortFunc(o.ConvergedTasks, func(a, b TaskTime) int { return cmpFloat(b.Ms, a.Ms) })
	logf("  no-op median %.0fms (process start %.0fms), converged re-run median %.0fms, changed %d, recreated %v",
		median(o.NoopMs), median(o.VersionMs), median(o.ConvergedMs), o.ConvergedChanged, o.ConvergedRecreated)
	return o
}

// cmdResult is a finished command.
type cmdResult struct {
	name           string
	wall           time.Duration
	cpu            time.Duration // user + system time of the process (not its children)
	stdout, stderr string
	err            error
}

func (r cmdResult) brief() string {
	msg := strings.TrimSpace(r.stderr)
	if msg == "" {
		msg = strings.TrimSpace(r.stdout)
	}
	if len(msg) > 600 {
		msg = "..." + msg[len(msg)-600:]
	}
	return fmt.Sprintf("%s: %v: %s", r.name, r.err, msg)
}

func runCmd(ctx context.Context, env []string, name string, args ...string) cmdResult {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	r := cmdResult{name: filepath.Base(name) + " " + strings.Join(args, " "), wall: time.Since(t0), stdout: out.String(), stderr: errb.String(), err: err}
	if ps := cmd.ProcessState; ps != nil {
		r.cpu = ps.UserTime() + ps.SystemTime()
	}
	return r
}

func dockerOut(ctx context.Context, args ...string) string {
	out, _ := exec.CommandContext(ctx, "docker", args...).Output()
	return strings.TrimSpace(string(out))
}

// ansibleAvailable says whether the seed-002 design can run, and with what.
func ansibleAvailable(ctx context.Context) (bool, string) {
	var missing []string
	for _, b := range []string{"ansible-playbook", "docker-compose"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return false, "not run: " + strings.Join(missing, " and ") + " not installed (Debian: apt-get install ansible-core docker-compose)"
	}
	v := strings.SplitN(cmdOut(ctx, "ansible-playbook", "--version"), "\n", 2)[0]
	return true, v
}

func cmdOut(ctx context.Context, name string, args ...string) string {
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// cmdStdout is the command's standard output, "" when it fails.
func cmdStdout(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func environment(ctx context.Context, c config) Env {
	e := Env{
		CPUs:          runtime.NumCPU(),
		Go:            runtime.Version(),
		Docker:        dockerOut(ctx, "version", "--format", "engine {{.Server.Version}} (API {{.Server.APIVersion}}), CLI {{.Client.Version}}"),
		DockerCompose: strings.SplitN(cmdOut(ctx, "docker-compose", "version", "--short"), "\n", 2)[0],
		Commit:        cmdStdout(ctx, "git", "describe", "--tags", "--always", "--dirty"),
	}
	if c := os.Getenv("ZDBENCH_COMMIT"); c != "" {
		e.Commit = c // a snapshot of the tree, without .git
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				e.CPUModel = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	e.ZdplayVersion = cmdStdout(ctx, c.zdplay, "version")
	return e
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// otherContainers counts running containers that are not the bench's: the
// machine is shared, and they compete for its 2 cores.
func otherContainers(ctx context.Context) int {
	n := 0
	for line := range strings.SplitSeq(dockerOut(ctx, "ps", "--format", `{{.Label "com.docker.compose.project"}}`), "\n") {
		if !strings.HasPrefix(line, "zdbench-") {
			n++
		}
	}
	return n
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func writeSVG(path string, r *probe.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(r.WriteSVG(f), f.Close())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
