package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/probe"
)

// Results is results.json.
type Results struct {
	Started  time.Time `json:"started"`
	Elapsed  float64   `json:"elapsed_s"`
	Env      Env       `json:"env"`
	Clients  int       `json:"clients"`
	SteadyS  float64   `json:"steady_s"`
	TailS    float64   `json:"tail_s"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Cases    []*Case   `json:"cases"`
	Overhead *Overhead `json:"overhead,omitempty"`
	Ratios   []Ratio   `json:"ratios"`
	Targets  []Target  `json:"targets"`
}

// Env is the machine the numbers come from.
type Env struct {
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model"`
	Go            string `json:"go"`
	Docker        string `json:"docker"`
	DockerCompose string `json:"docker_compose_v1"`
	Ansible       string `json:"ansible"`
	Commit        string `json:"commit"`
	ZdplayVersion string `json:"zdplay_version"`
}

// Case is one tool and replica count, over one or more rounds.
type Case struct {
	Name     string   `json:"name"`
	Tool     string   `json:"tool"`
	Replicas int      `json:"replicas"`
	Vars     []string `json:"vars,omitempty"`
	To       string   `json:"to,omitempty"`     // when not Results.To
	Method   string   `json:"method,omitempty"` // the clients' method when not GET
	// FailuresReported: failures measured and stated, not a failed target.
	FailuresReported bool     `json:"failures_reported,omitempty"`
	Skipped          string   `json:"skipped,omitempty"`
	Rounds           []*Round `json:"rounds,omitempty"`

	// Over the rounds: the median wall time and percentiles, every request.
	WallS         float64            `json:"wall_s"`
	WallMeanS     float64            `json:"wall_mean_s"`
	WallMinS      float64            `json:"wall_min_s"`
	WallMaxS      float64            `json:"wall_max_s"`
	Requests      int64              `json:"requests"`
	Failed        int64              `json:"failed"`
	Retries       int64              `json:"client_retries"`
	SteadyP99Ms   float64            `json:"steady_p99_ms"`
	UpgradeP99Ms  float64            `json:"upgrade_p99_ms"`
	UpgradeMaxMs  float64            `json:"upgrade_max_ms"`
	Converged     bool               `json:"converged"`
	OK            bool               `json:"ok"`
	Steps         map[string]float64 `json:"steps_s"` // mean over the rounds, summed over replicas
	PerReplica    map[string]float64 `json:"per_replica_s"`
	Chart         string             `json:"chart,omitempty"`
	Errors        []string           `json:"errors,omitempty"`
	ErrorsByKind  map[string]int64   `json:"errors_by_kind,omitempty"`
	StatusCounts  map[string]int64   `json:"status,omitempty"`
	FailedSeconds []int              `json:"failed_seconds,omitempty"` // seconds of the chart with failures
	MinUndrainGap float64            `json:"min_undrain_after_up_s,omitempty"`
}

// Round is one provision + upgrade under load.
type Round struct {
	Round           int                `json:"round"`
	Project         string             `json:"project"`
	Port            int                `json:"port"`
	Load            string             `json:"loadavg_at_start"`
	OtherContainers int                `json:"other_containers_running"`
	ProvisionS      float64            `json:"provision_s"`
	WallS           float64            `json:"wall_s"`
	ExitOK          bool               `json:"exit_ok"`
	Error           string             `json:"error,omitempty"`
	Steady          Phase              `json:"steady"`
	Upgrade         Phase              `json:"upgrade"`
	Tail            Phase              `json:"tail"`
	Failed          int64              `json:"failed"` // upgrade + tail
	Converged       bool               `json:"converged"`
	Images          map[string]string  `json:"images"`
	Steps           map[string]float64 `json:"steps_s"`
	Tasks           []TaskTime         `json:"tasks,omitempty"`
	UndrainGapsS    []float64          `json:"undrain_after_up_s,omitempty"` // Ansible: up -d returned -> back in the upstream
	Notes           []string           `json:"notes,omitempty"`

	merged *probe.Report
}

// Phase is one probe run.
type Phase struct {
	Seconds  float64          `json:"s"`
	Requests int64            `json:"requests"`
	Failed   int64            `json:"failed"`
	Retries  int64            `json:"client_retries"`
	P50Ms    float64          `json:"p50_ms"`
	P99Ms    float64          `json:"p99_ms"`
	MaxMs    float64          `json:"max_ms"`
	Status   map[string]int64 `json:"status,omitempty"`
	Errors   map[string]int64 `json:"errors,omitempty"`
	Versions map[string]int64 `json:"versions,omitempty"`
}

// Overhead is zdplay's own cost, with no upgrade to do.
type Overhead struct {
	Project             string     `json:"project"`
	Error               string     `json:"error,omitempty"`
	Notes               []string   `json:"notes,omitempty"`
	VersionMs           []float64  `json:"version_ms"`
	VersionCPUMs        []float64  `json:"version_cpu_ms"`
	NoopMs              []float64  `json:"noop_ms"`
	NoopCPUMs           []float64  `json:"noop_cpu_ms"`
	NoopInternalMs      []float64  `json:"noop_internal_ms"`
	ConvergedMs         []float64  `json:"converged_ms"`
	ConvergedCPUMs      []float64  `json:"converged_cpu_ms"`
	ConvergedInternalMs []float64  `json:"converged_internal_ms"`
	ConvergedChanged    int        `json:"converged_changed"`
	ConvergedRecreated  bool       `json:"converged_recreated"`
	ConvergedReloaded   bool       `json:"converged_reloaded"`
	ConvergedTasks      []TaskTime `json:"converged_tasks_median"`
}

// TaskTime is one task's duration.
type TaskTime struct {
	Task string  `json:"task"`
	Ms   float64 `json:"ms"`
}

// Ratio is one wall-time ratio.
type Ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Target is one goal of issue 6 or 13, met or not.
type Target struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// The steps of an upgrade, the same for every tool.
var stepOrder = []string{"render_conf", "reload", "reload_wait", "runtime_api", "recreate", "wait_healthy", "other_tasks", "engine", "startup"}

var stepLabel = map[string]string{
	"render_conf":  "render nginx conf (drain + undrain)",
	"reload":       "nginx reload (-t, reload, old workers gone), x2",
	"reload_wait":  "... of which: from `nginx -s reload` to old workers gone",
	"runtime_api":  "haproxy runtime API (drain until 0 sessions, undrain until up), x2",
	"recreate":     "recreate the replica (stop, remove, create, start)",
	"wait_healthy": "wait healthy (Docker health + 3 x /ping)",
	"other_tasks":  "other tasks (compose file, checks, bookkeeping)",
	"engine":       "rollout engine (its wall time outside its tasks)",
	"startup":      "process start, load, between tasks (wall - tasks)",
}

func phaseOf(r *probe.Report) Phase {
	if r == nil {
		return Phase{}
	}
	p := Phase{Seconds: round3(r.Elapsed.Seconds()), Requests: r.Total, Failed: r.Failed, Retries: r.Retries,
		P50Ms: msOf(r.Latency.P50), P99Ms: msOf(r.Latency.P99), MaxMs: msOf(r.Latency.Max),
		Status: map[string]int64{}, Errors: map[string]int64{}, Versions: map[string]int64{}}
	for k, v := range r.Status {
		p.Status[strconv.Itoa(k)] = v
	}
	maps.Copy(p.Errors, r.Errors)
	for _, v := range r.Versions {
		p.Versions[v.Version] = v.Count
	}
	return p
}

// merge joins consecutive probe reports into one, for the chart: the
// timeline seconds are placed by each report's start.
func merge(rs ...*probe.Report) *probe.Report {
	var first *probe.Report
	out := &probe.Report{Status: map[int]int64{}, Errors: map[string]int64{}}
	idx := map[string]int{}
	for _, r := range rs {
		if r == nil {
			continue
		}
		if first == nil {
			first = r
			out.URL, out.Concurrency, out.KeepAlive, out.Timeout, out.Start = r.URL, r.Concurrency, r.KeepAlive, r.Timeout, r.Start
		}
		out.Total += r.Total
		out.Failed += r.Failed
		out.Interrupted += r.Interrupted
		out.Retries += r.Retries
		for k, v := range r.Status {
			out.Status[k] += v
		}
		for k, v := range r.Errors {
			out.Errors[k] += v
		}
		for _, v := range r.Versions {
			if i, ok := idx[v.Version]; ok {
				m := &out.Versions[i]
				m.Count += v.Count
				if v.LastSeen.After(m.LastSeen) {
					m.LastSeen = v.LastSeen
				}
			} else {
				idx[v.Version] = len(out.Versions)
				out.Versions = append(out.Versions, v)
			}
		}
		out.Latency.Max = max(out.Latency.Max, r.Latency.Max)
		out.Latency.P99 = max(out.Latency.P99, r.Latency.P99)
		off := int((r.Start.Sub(first.Start) + 500*time.Millisecond) / time.Second)
		for _, s := range r.Timeline {
			i := off + s.Second
			for len(out.Timeline) <= i {
				out.Timeline = append(out.Timeline, probe.Second{Second: len(out.Timeline), Versions: map[string]int64{}})
			}
			d := &out.Timeline[i]
			d.Requests += s.Requests
			d.Failed += s.Failed
			d.P99 = max(d.P99, s.P99)
			for k, v := range s.Versions {
				d.Versions[k] += v
			}
		}
		out.Elapsed = r.Start.Add(r.Elapsed).Sub(first.Start)
	}
	return out
}

// zdJSON is what `zdplay run -o json` prints.
type zdJSON struct {
	OK        int   `json:"ok"`
	Changed   int   `json:"changed"`
	Failed    int   `json:"failed"`
	ElapsedNs int64 `json:"elapsed_ns"`
	Tasks     []struct {
		Role       string `json:"role"`
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		Item       string `json:"item"`
		Pos        string `json:"pos"`
		Status     string `json:"status"`
		DurationNs int64  `json:"duration_ns"`
		Msg        string `json:"msg"`
	} `json:"tasks"`
}

// zdplaySteps sorts the recap's per-task durations into the common steps.
// A `rollout` task's duration spans the tasks it ran (the recap lists them
// just before it, declared in the same file, roles/rollout.hcl): they count
// in their own steps, and only the rest of it is the engine's ("engine"),
// so nothing is counted twice. Within it, consecutive results of one
// declaration are a parallel block's items (a batch's health waits), which
// overlap: the longest of them is what the rollout spent.
func zdplaySteps(r cmdResult) (map[string]float64, []TaskTime) {
	steps := map[string]float64{}
	var j zdJSON
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		steps["startup"] = r.wall.Seconds()
		return steps, nil
	}
	sec := func(i int) float64 { return float64(j.Tasks[i].DurationNs) / 1e9 }
	file := func(i int) string { f, _, _ := strings.Cut(j.Tasks[i].Pos, ":"); return f }
	inner := make([]bool, len(j.Tasks))
	var tasks []TaskTime
	top := 0.0 // tasks outside any rollout, and the rollouts themselves
	for i, t := range j.Tasks {
		name := t.Kind + " " + strconv.Quote(t.Name)
		if t.Item != "" {
			name += " [" + t.Item + "]"
		}
		tasks = append(tasks, TaskTime{Task: name, Ms: round3(sec(i) * 1000)})
		if t.Kind != "rollout" {
			continue
		}
		spent, group := 0.0, 0.0 // group: the longest of the current parallel items
		for k := i - 1; k >= 0 && j.Tasks[k].Kind != "rollout" && file(k) == file(i); k-- {
			inner[k] = true
			if k+1 < i && j.Tasks[k+1].Pos == j.Tasks[k].Pos && j.Tasks[k+1].Item != j.Tasks[k].Item {
				group = max(group, sec(k)) // the same parallel block as the next one
				continue
			}
			spent += group
			group = sec(k)
		}
		steps["engine"] += sec(i) - spent - group
	}
	for i, t := range j.Tasks {
		d := sec(i)
		if !inner[i] {
			top += d
		}
		if t.Status == "skipped" || t.Kind == "rollout" {
			continue // skipped: the other proxy's steps are "-", not 0
		}
		switch {
		case t.Kind == "proxy" && (t.Name == "drain" || t.Name == "undrain") && strings.Contains(t.Msg, "nginx"):
			// The proxy kind renders, validates and reloads nginx in one step.
			steps["reload"] += d
			// "reloaded nginx in proxy with default.conf (old workers gone after 258ms)"
			if _, after, ok := strings.Cut(t.Msg, "old workers gone after "); ok {
				if w, err := time.ParseDuration(strings.TrimSuffix(after, ")")); err == nil {
					steps["reload_wait"] += w.Seconds()
				}
			}
		case t.Kind == "proxy" && (t.Name == "drain" || t.Name == "undrain"):
			steps["runtime_api"] += d // HAProxy: its runtime API, no reload
		case t.Kind == "compose_recreate":
			steps["recreate"] += d
		case t.Kind == "wait_healthy":
			steps["wait_healthy"] += d
		default:
			steps["other_tasks"] += d
		}
	}
	steps["startup"] = r.wall.Seconds() - top
	return steps, tasks
}

// floorSteps reads floor.sh's "STEP replica step ms" lines, and its "SUB"
// lines (parts of a step, not added to the total).
func floorSteps(r cmdResult) map[string]float64 {
	steps := map[string]float64{}
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || (f[0] != "STEP" && f[0] != "SUB") {
			continue
		}
		v, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			continue
		}
		steps[f[2]] += v / 1000
		if f[0] == "STEP" {
			sum += v / 1000
		}
	}
	steps["startup"] = r.wall.Seconds() - sum
	return steps
}

// ansibleSteps reads the zdbench_timing callback's lines. gaps are, per
// replica, the time from `docker-compose up -d` returning to the end of the
// next nginx reload, which puts the new replica back in the upstream: the
// seed-002 design's only "health check".
func ansibleSteps(path string, wall time.Duration) (steps map[string]float64, gaps []float64) {
	steps = map[string]float64{}
	sum := 0.0
	upEnd := -1.0
	b, _ := os.ReadFile(path)
	for line := range strings.SplitSeq(string(b), "\n") {
		var t struct {
			Task    string  `json:"task"`
			Action  string  `json:"action"`
			Seconds float64 `json:"seconds"`
			End     float64 `json:"end"`
		}
		if json.Unmarshal([]byte(line), &t) != nil {
			continue
		}
		sum += t.Seconds
		if strings.Contains(t.Task, "Recreate app service") {
			upEnd = t.End
		} else if strings.Contains(t.Task, "Reload nginx") && upEnd >= 0 {
			gaps = append(gaps, round3(t.End-upEnd))
			upEnd = -1
		}
		switch {
		case t.Action == "template" && strings.Contains(t.Task, "nginx"):
			steps["render_conf"] += t.Seconds
		case strings.Contains(t.Task, "Reload nginx"):
			steps["reload"] += t.Seconds
		case strings.Contains(t.Task, "Stop app service") || strings.Contains(t.Task, "Recreate app service"):
			steps["recreate"] += t.Seconds
		default:
			steps["other_tasks"] += t.Seconds
		}
	}
	steps["startup"] = wall.Seconds() - sum
	return steps, gaps
}

// summarize folds the rounds into the case's numbers and writes its chart.
func (c *Case) summarize(out string) {
	var walls, steadyP99, upP99 []float64
	c.Steps, c.PerReplica = map[string]float64{}, map[string]float64{}
	c.ErrorsByKind, c.StatusCounts = map[string]int64{}, map[string]int64{}
	c.Converged, c.OK = true, true
	var chart *Round
	n := 0
	for _, r := range c.Rounds {
		if r.Error != "" {
			c.Errors = append(c.Errors, fmt.Sprintf("round %d: %s", r.Round, r.Error))
			c.OK = false
		}
		if r.merged == nil {
			continue
		}
		n++
		walls = append(walls, r.WallS)
		steadyP99 = append(steadyP99, r.Steady.P99Ms)
		upP99 = append(upP99, r.Upgrade.P99Ms)
		c.UpgradeMaxMs = max(c.UpgradeMaxMs, r.Upgrade.MaxMs)
		c.Requests += r.Upgrade.Requests + r.Tail.Requests
		c.Failed += r.Failed
		c.Retries += r.Upgrade.Retries + r.Tail.Retries
		c.Converged = c.Converged && r.Converged
		for _, p := range []Phase{r.Upgrade, r.Tail} {
			for k, v := range p.Errors {
				c.ErrorsByKind[k] += v
			}
			for k, v := range p.Status {
				c.StatusCounts[k] += v
			}
		}
		for k, v := range r.Steps {
			c.Steps[k] += v
		}
		for _, g := range r.UndrainGapsS {
			if c.MinUndrainGap == 0 || g < c.MinUndrainGap {
				c.MinUndrainGap = g
			}
		}
		if chart == nil || r.Failed >= chart.Failed {
			chart = r
		}
	}
	if n == 0 {
		c.OK = false
		return
	}
	for k, v := range c.Steps {
		c.Steps[k] = round3(v / float64(n))
		c.PerReplica[k] = round3(v / float64(n) / float64(c.Replicas))
	}
	c.WallS, c.WallMinS, c.WallMaxS = round3(median(walls)), slices.Min(walls), slices.Max(walls)
	c.WallMeanS = round3(mean(walls))
	c.SteadyP99Ms, c.UpgradeP99Ms = round3(median(steadyP99)), round3(median(upP99))
	c.OK = c.OK && c.Converged && (c.Failed == 0 || c.FailuresReported)
	if chart != nil {
		name := c.Name + ".svg"
		if err := writeSVG(filepath.Join(out, name), chart.merged); err == nil {
			c.Chart = name
		}
		for _, s := range chart.merged.Timeline {
			if s.Failed > 0 {
				c.FailedSeconds = append(c.FailedSeconds, s.Second)
			}
		}
	}
}

func (r *Results) caseNamed(name string) *Case {
	for _, c := range r.Cases {
		if c.Name == name && c.Skipped == "" && len(c.Rounds) > 0 && c.WallS > 0 {
			return c
		}
	}
	return nil
}

// evaluate computes the ratios and checks the targets of issues 6 and 13.
func (r *Results) evaluate() {
	for _, n := range []int{2, 4} {
		zd, fl, an := r.caseNamed(fmt.Sprintf("zdplay-%d", n)), r.caseNamed(fmt.Sprintf("floor-%d", n)), r.caseNamed(fmt.Sprintf("ansible-%d", n))
		if zd != nil && fl != nil {
			v := round3(zd.WallS / fl.WallS)
			r.Ratios = append(r.Ratios, Ratio{fmt.Sprintf("zdplay / floor, %d replicas", n), v})
			r.Targets = append(r.Targets, Target{fmt.Sprintf("zdplay within 1.2x of the floor (%d replicas)", n),
				fmt.Sprintf("%.2fx (%.2fs vs %.2fs)", v, zd.WallS, fl.WallS), v <= 1.2})
		}
		if fl != nil && an != nil {
			r.Ratios = append(r.Ratios, Ratio{fmt.Sprintf("Ansible design / floor, %d replicas (the most any tool doing zdplay's steps could gain)", n), round3(an.WallS / fl.WallS)})
		}
		if zd != nil && an != nil {
			v := round3(an.WallS / zd.WallS)
			r.Ratios = append(r.Ratios, Ratio{fmt.Sprintf("Ansible design / zdplay, %d replicas", n), v})
			r.Targets = append(r.Targets, Target{fmt.Sprintf("zdplay >= 5x faster than the Ansible design (%d replicas)", n),
				fmt.Sprintf("%.2fx (%.2fs vs %.2fs)", v, an.WallS, zd.WallS), v >= 5})
		}
	}
	for _, tool := range []string{"zdplay", "floor", "floor-compose", "ansible"} {
		var failed, total int64
		var names []string
		ok := true
		for _, c := range r.Cases {
			if c.Tool != tool || c.Skipped != "" || len(c.Rounds) == 0 || c.FailuresReported {
				continue
			}
			failed += c.Failed
			total += c.Requests
			names = append(names, c.Name)
			ok = ok && c.Converged && len(c.Errors) == 0
		}
		if len(names) == 0 {
			continue
		}
		m := fmt.Sprintf("%d failed of %d (%s)", failed, total, strings.Join(names, ", "))
		if !ok {
			m += "; an upgrade failed or did not converge"
		}
		r.Targets = append(r.Targets, Target{"0 failed requests: " + toolLabel(tool), m, failed == 0 && ok})
	}
	r.evaluateHaproxy()
	if o := r.Overhead; o != nil && len(o.NoopMs) > 0 {
		v := median(o.NoopMs)
		r.Targets = append(r.Targets, Target{"no-op run < 50 ms",
			fmt.Sprintf("%.0f ms median wall (process start alone %.0f ms; CPU %.0f ms; runner %.1f ms)", v, median(o.VersionMs), median(o.NoopCPUMs), median(o.NoopInternalMs)),
			v < 50 && o.Error == ""})
	}
	if o := r.Overhead; o != nil && len(o.ConvergedMs) > 0 {
		v := median(o.ConvergedMs)
		m := fmt.Sprintf("%.0f ms median wall, changed=%d, containers recreated: %v, nginx reloaded: %v", v, o.ConvergedChanged, o.ConvergedRecreated, o.ConvergedReloaded)
		r.Targets = append(r.Targets, Target{"converged re-run < 1 s, recreating nothing", m,
			v < 1000 && o.ConvergedChanged == 0 && !o.ConvergedRecreated && !o.ConvergedReloaded && o.Error == ""})
	}
}

// evaluateHaproxy checks issue 13's targets: HAProxy's upgrade against
// nginx's in the same run, and POST clients, which no client retries on a
// closed connection, served whole with the proxy's own retries off.
func (r *Results) evaluateHaproxy() {
	for _, n := range []string{"2", "4", "12-parallel4"} {
		ng, ha := r.caseNamed("zdplay-"+n), r.caseNamed("haproxy-"+n)
		if ng == nil || ha == nil {
			continue
		}
		v := round3(ha.WallS / ng.WallS)
		label := strings.Replace(n, "-parallel", " replicas, batches of ", 1)
		if !strings.Contains(label, " ") {
			label += " replicas"
		}
		r.Ratios = append(r.Ratios, Ratio{"haproxy / nginx (zdplay), " + label, v})
		if n == "2" {
			r.Targets = append(r.Targets, Target{"haproxy's 2-replica upgrade <= 0.75x nginx's wall time (same run)",
				fmt.Sprintf("%.2fx (%.2fs vs %.2fs)", v, ha.WallS, ng.WallS), v <= 0.75})
		}
	}
	var failed, retries, total int64
	var names []string
	ok := true
	for _, c := range r.Cases {
		if !strings.HasPrefix(c.Name, "haproxy-") || c.Method != http.MethodPost || c.Skipped != "" || len(c.Rounds) == 0 {
			continue
		}
		failed, retries, total = failed+c.Failed, retries+c.Retries, total+c.Requests
		names = append(names, c.Name)
		ok = ok && c.Converged && len(c.Errors) == 0
	}
	if len(names) > 0 {
		m := fmt.Sprintf("%d failed, %d client retries of %d (%s)", failed, retries, total, strings.Join(names, ", "))
		if !ok {
			m += "; an upgrade failed or did not converge"
		}
		r.Targets = append(r.Targets, Target{"haproxy under POST clients, its retries off: 0 failed, 0 client retries", m, ok && failed == 0 && retries == 0})
	}
}

func toolLabel(tool string) string {
	switch tool {
	case "zdplay":
		return "zdplay"
	case "floor":
		return "floor (bench/floor.sh, docker CLI)"
	case "floor-compose":
		return "floor with docker-compose v1 recreate"
	case "ansible":
		return "seed-002 design (Ansible + docker-compose v1)"
	}
	return tool
}

// markdown is RESULTS.md.
func (r *Results) markdown(out string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# make bench: zero-downtime upgrades, measured")
	p("")
	p("Generated by `make bench` (`go run ./bench`) on %s, in %.0f s. Raw numbers: [results.json](results.json); Go micro-benchmarks: [go-bench.txt](go-bench.txt).",
		r.Started.Format("2006-01-02 15:04 MST"), r.Elapsed)
	p("")
	p("Machine: %d CPUs (%s), Docker %s, docker-compose %s, %s, %s (tree %s).",
		r.Env.CPUs, r.Env.CPUModel, r.Env.Docker, orNone(r.Env.DockerCompose), orNone(r.Env.Ansible), r.Env.ZdplayVersion, r.Env.Commit)
	p("")
	p("%s", r.sharedText())
	p("")
	p("Every upgrade: a fresh stack (compose project `zdbench-*`, proxy on its own port of 127.0.0.1) provisioned at %s, then %d keep-alive clients (internal/probe, in process) load the proxy for %.0f s (steady state), then during the upgrade to %s, then %.0f s more (the tail; its failures count too). Wall time is the upgrade command's, from exec to exit. zdplay and the floor ran %s; each table row is the median round, failures are summed over all rounds.",
		r.From, r.Clients, r.SteadyS, r.To, r.TailS, roundsText(r))
	p("")
	p("## Upgrades")
	p("")
	p("| case | tool | replicas | rounds | wall (median) | min-max | requests | failed | client retries | p99 steady | p99 upgrade | max upgrade | all at the new release | chart |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
	for _, c := range r.Cases {
		tool := toolLabel(c.Tool)
		if c.To != "" {
			tool += ", to " + c.To
		}
		if len(c.Vars) > 0 {
			tool += ", -e " + strings.Join(c.Vars, " -e ")
		}
		if c.Method != "" {
			tool += ", " + c.Method + " clients"
		}
		if c.Skipped != "" {
			p("| %s | %s | %d | 0 | - | - | - | - | - | - | - | - | - | %s |", c.Name, tool, c.Replicas, c.Skipped)
			continue
		}
		if c.WallS == 0 {
			p("| %s | %s | %d | %d | - | - | - | - | - | - | - | - | - | failed: %s |", c.Name, tool, c.Replicas, len(c.Rounds), strings.Join(c.Errors, "; "))
			continue
		}
		chart := "-"
		if c.Chart != "" {
			chart = fmt.Sprintf("[%s](%s)", c.Chart, c.Chart)
		}
		p("| %s | %s | %d | %d | %.2f s | %.2f-%.2f s | %d | **%d** | %d | %.0f ms | %.0f ms | %.0f ms | %s | %s |", c.Name, tool, c.Replicas, len(c.Rounds),
			c.WallS, c.WallMinS, c.WallMaxS, c.Requests, c.Failed, c.Retries, c.SteadyP99Ms, c.UpgradeP99Ms, c.UpgradeMaxMs, yesNo(c.Converged), chart)
	}
	var gaps []string
	for _, c := range r.Cases {
		if c.MinUndrainGap > 0 {
			gaps = append(gaps, fmt.Sprintf("%s %.2f s", c.Name, c.MinUndrainGap))
		}
	}
	if len(gaps) > 0 {
		p("")
		p("The seed-002 design puts a new replica back in the upstream without checking it: the time from `docker-compose up -d` returning to the end of the reload that undrains it was at least %s. A release that takes longer than that to listen gets requests it refuses; nginx's retry on the next upstream hides that from clients, and without the retry only that head start stands between the clients and a 502.", strings.Join(gaps, ", "))
	}
	for _, c := range r.Cases {
		if c.FailuresReported && len(c.Rounds) > 0 {
			p("")
			p("**%s: %d of %d requests failed** (%d round(s); errors %s, statuses %s, in second(s) %v of its chart). Measured and stated, not counted against the 0-failed targets: every nginx reload (two per replica) closes its old workers' idle client keep-alive connections; a GET client retries such a request on a new connection (the client retries of the GET cases), a %s client does not, so it fails. With HAProxy's runtime API no connection is closed (the haproxy-*-post-noretry rows). %s",
				c.Name, c.Failed, c.Requests, len(c.Rounds), kv(c.ErrorsByKind), kv(c.StatusCounts), c.FailedSeconds, c.Method, strings.Join(c.Errors, "; "))
			continue
		}
		if c.Failed > 0 || len(c.Errors) > 0 {
			p("")
			p("%s: %d failed request(s): errors %s, statuses %s, in second(s) %v of its chart. %s", c.Name, c.Failed,
				kv(c.ErrorsByKind), kv(c.StatusCounts), c.FailedSeconds, strings.Join(c.Errors, "; "))
		}
	}
	p("")
	p("## Ratios")
	p("")
	p("| ratio | value |")
	p("| --- | ---: |")
	for _, x := range r.Ratios {
		p("| %s | %.2fx |", x.Name, x.Value)
	}
	p("")
	p("## Targets (issues 6 and 13)")
	p("")
	p("| target | measured | met |")
	p("| --- | --- | --- |")
	for _, t := range r.Targets {
		p("| %s | %s | %s |", t.Target, t.Measured, metText(t.Met))
	}
	if spread, lo, hi := r.noise(); spread > 0 {
		p("")
		p("Noise: in this run the wall time of the same case varied by up to %.0f%% between its rounds (max/min), and the 1-minute load average at the start of a round ranged over %.1f-%.1f on %d CPUs (it includes the bench's own load). A ratio within that margin of its target could fall on the other side in another run; the Ansible design, which spends its time in Python processes, slows down more than zdplay when the CPUs are contended.", (spread-1)*100, lo, hi, r.Env.CPUs)
	}
	p("")
	p("## Where the time goes")
	p("")
	p("Seconds per upgrade (mean of the rounds), summed over the replicas; zdplay's from `--output json` (tasks[].duration_ns), the floor's from its STEP lines, Ansible's from bench/ansible/callback_plugins/zdbench_timing.py. \"startup\" is the wall time not inside any task: process start, loading and validating the playbook (Ansible: Python, the playbook, the inventory, includes), and the runner between tasks; zdplay's \"rollout engine\" is the `rollout` task's time outside the tasks it ran (its decisions between observations). Tasks of a parallel block (the health waits of a batch, with parallelism > 1) overlap, so their sum can exceed the wall time and make \"startup\" negative.")
	p("")
	var cols []*Case
	for _, c := range r.Cases {
		if c.Skipped == "" && c.WallS > 0 {
			cols = append(cols, c)
		}
	}
	head, sep := "| step |", "| --- |"
	for _, c := range cols {
		head += " " + c.Name + " |"
		sep += " ---: |"
	}
	p("%s", head)
	p("%s", sep)
	for _, k := range stepOrder {
		row := "| " + stepLabel[k] + " |"
		for _, c := range cols {
			row += " " + secs(c.Steps, k) + " |"
		}
		p("%s", row)
	}
	row := "| **wall (mean)** |"
	for _, c := range cols {
		row += fmt.Sprintf(" **%.3f** |", c.WallMeanS)
	}
	p("%s", row)
	p("")
	p("Per replica (the same, divided by the replica count):")
	p("")
	p("%s", head)
	p("%s", sep)
	for _, k := range stepOrder {
		if k == "other_tasks" || k == "engine" || k == "startup" {
			continue // not per replica
		}
		row := "| " + stepLabel[k] + " |"
		for _, c := range cols {
			row += " " + secs(c.PerReplica, k) + " |"
		}
		p("%s", row)
	}
	r.analysis(p)
	if zd := r.caseNamed("zdplay-2"); zd != nil && len(zd.Rounds) > 0 && len(zd.Rounds[0].Tasks) > 0 {
		p("")
		p("<details><summary>zdplay-2, round 1: every task of the upgrade</summary>")
		p("")
		p("| task | ms |")
		p("| --- | ---: |")
		for _, t := range zd.Rounds[0].Tasks {
			p("| %s | %.1f |", strings.ReplaceAll(t.Task, "|", "\\|"), t.Ms)
		}
		p("")
		p("</details>")
	}
	if o := r.Overhead; o != nil {
		p("")
		p("## Runner overhead")
		p("")
		p("On a provisioned 2-replica stack (%s). Median (min-max) of the runs; wall is exec to exit, CPU the process's user + system time (insensitive to other load on the machine, unlike wall), runner the recap's elapsed_ns (tasks only: not process start, loading nor validation).", o.Project)
		p("")
		p("| run | runs | wall median | wall min-max | CPU median | runner median |")
		p("| --- | ---: | ---: | ---: | ---: | ---: |")
		p("| `zdplay version` (process start only) | %d | %.1f ms | %.1f-%.1f ms | %.1f ms | - |", len(o.VersionMs), median(o.VersionMs), minOf(o.VersionMs), maxOf(o.VersionMs), median(o.VersionCPUMs))
		p("| no-op: `zdplay run playbooks/app.hcl --skip-tags all` | %d | %.1f ms | %.1f-%.1f ms | %.1f ms | %.2f ms |", len(o.NoopMs), median(o.NoopMs), minOf(o.NoopMs), maxOf(o.NoopMs), median(o.NoopCPUMs), median(o.NoopInternalMs))
		p("| converged re-run: `zdplay run playbooks/app.hcl` (provision + upgrade, nothing to do) | %d | %.0f ms | %.0f-%.0f ms | %.0f ms | %.0f ms |", len(o.ConvergedMs), median(o.ConvergedMs), minOf(o.ConvergedMs), maxOf(o.ConvergedMs), median(o.ConvergedCPUMs), median(o.ConvergedInternalMs))
		p("")
		p("The no-op run uses `--skip-tags all`: every task carries the implicit tag `all`, so it selects nothing and still loads, validates and resolves the whole playbook. (`-t` with a tag no task carries is an error, exit 2; `-t never` would select the teardown role; `-t untagged` also selects nothing here, since every role is tagged.)")
		p("")
		p("Converged re-run: changed=%d, containers recreated: %s, nginx reloaded (worker PIDs changed): %s.", o.ConvergedChanged, yesNo(o.ConvergedRecreated), yesNo(o.ConvergedReloaded))
		if o.Error != "" {
			p("")
			p("Error: %s", o.Error)
		}
		if len(o.ConvergedTasks) > 0 {
			p("")
			p("Slowest tasks of the converged re-run (median ms):")
			p("")
			p("| task | ms |")
			p("| --- | ---: |")
			waits, all := 0.0, 0.0
			for i, t := range o.ConvergedTasks {
				all += t.Ms
				if strings.Contains(t.Task, "wait_healthy") {
					waits += t.Ms
				}
				if i < 8 {
					p("| %s | %.1f |", strings.ReplaceAll(t.Task, "|", "\\|"), t.Ms)
				}
			}
			p("")
			p("Of the converged re-run's %.0f ms summed over its tasks (tasks of a parallel block overlap), %.0f ms are wait_healthy on replicas that are already healthy: each needs three 200s of `GET /ping` polled every 100 ms, so at least 200 ms, even when nothing was started.", all, waits)
		}
	}
	if gb := goBench(filepath.Join(out, "go-bench.txt")); gb != "" {
		p("")
		p("## Go micro-benchmarks")
		p("")
		p("`go test -run '^$' -bench . -benchtime 3x ./runner ./internal/...` ([go-bench.txt](go-bench.txt)):")
		p("")
		p("```")
		b.WriteString(gb)
		p("```")
	}
	// The same note from several rounds once, naming where it came from.
	where := map[string][]string{}
	var notes []string
	add := func(note, from string) {
		if _, ok := where[note]; !ok {
			notes = append(notes, note)
		}
		where[note] = append(where[note], from)
	}
	for _, c := range r.Cases {
		for _, rr := range c.Rounds {
			for _, n := range rr.Notes {
				add(n, fmt.Sprintf("%s round %d", c.Name, rr.Round))
			}
		}
	}
	if r.Overhead != nil {
		for _, n := range r.Overhead.Notes {
			add(n, "overhead")
		}
	}
	p("")
	p("## How it is measured, and caveats")
	p("")
	p("- **zdplay**: `bin/zdplay run playbooks/app.hcl -t upgrade -e version=%s -o json` on a stack provisioned by `-t provision` at %s.", r.To, r.From)
	p("- **floor** (bench/floor.sh): the same steps and nothing else on the same zdplay-provisioned stack: render the drained conf, `nginx -t` + `nginx -s reload` through `docker exec` and `docker top` polled every 50 ms until the old workers are gone, graceful `docker stop` + `docker rm` + `docker run` with the service's spec (plain docker CLI), the same health wait as zdplay (every 100 ms: `GET /ping` 200 3 in a row, counted while Docker health is `starting`, and Docker health `healthy`), undrain, reload until the new workers run (as zdplay: it takes no server out). No playbook, no image or config-hash checks, no rollback. *floor-compose* is the same script recreating with `docker-compose stop` + `docker-compose up -d --no-deps --force-recreate` (v1, a Python start per call), for reference.")
	p("- **seed-002 design** (bench/ansible/): ansible-playbook with docker-compose v1 and zdplay's templates in Jinja2, the way seed 002 describes it: per replica, template the conf with the replica down and `docker-compose exec -T proxy nginx -s reload`, template the compose file, `docker-compose stop app_N`, `docker-compose up -d --no-deps app_N`, template the conf back and reload. As in the seed, nothing waits for nginx's old workers or for the new replica to be healthy: `up -d` returning is \"recreated\". (The seed's `service nginx reload` is `nginx -s reload`: the demo nginx image has no shell.) It is provisioned by its own `-t provision` (docker-compose v1 names containers differently from Compose v2), then the bench waits for every replica to be healthy before loading it.")
	p("- *-noretry* cases render the conf with `proxy_next_upstream off` (`-e proxy_next_upstream=false`, provision and upgrade): nginx no longer retries a request on another replica when one refuses or resets it, so the clients see whatever the design itself lets through. With `-e proxy=haproxy` the same variable sets `retries 0` and `option redispatch 0`.")
	p("- *haproxy-* cases are zdplay with `-e proxy=haproxy` (HAProxy 2.6 in master-worker mode; replicas drained and put back over its runtime API, no reload), each beside the nginx case it is compared with, in the same round. *-post-* cases load with POST requests (`zdplay probe --method POST --body x`): net/http retries a request on a keep-alive connection the server closed only when it is idempotent, or when nothing of it was written yet, so a POST whose connection a proxy closes fails. client retries are the attempts a client really made beyond the first (one per extra connection net/http took for a request), never inferred.")
	p("- A failed request is a transport error or a non-2xx status seen by a probe client; a request cut short by the probe stopping between phases is not counted. Go's client retries a GET transparently when a reused keep-alive connection turns out closed; those retries are in results.json (client_retries), not failures.")
	p("- p99 steady is over the %.0f s before the upgrade; p99 upgrade over the upgrade itself. Each phase is its own probe run (40 new connections at each phase start).", r.SteadyS)
	p("- The machine is shared: other engineers' end-to-end tests may run containers at the same time (results.json records, at the start of every round, the load average, which includes the bench's own load, and the number of other running containers). On 2 cores the probe's 40 clients, nginx, the app replicas and the tool all compete for CPU, for every tool alike; rounds are interleaved so that drifts spread over the tools.")
	p("- The tail is 1 s: failures that go on after it (a replica still booting when the upgrade returned) are not counted, so a failure count is a lower bound.")
	for _, n := range notes {
		p("- Note (%s): %s", strings.Join(where[n], ", "), n)
	}
	return b.String()
}

// sharedText says when the run was and whether other work shared the
// machine: a loaded machine stretches every wall time, so a reader must
// know.
func (r *Results) sharedText() string {
	end := r.Started.Add(time.Duration(r.Elapsed * float64(time.Second)))
	rounds, shared, most := 0, 0, 0
	for _, c := range r.Cases {
		for _, rr := range c.Rounds {
			rounds++
			if rr.OtherContainers > 0 {
				shared++
			}
			most = max(most, rr.OtherContainers)
		}
	}
	_, lo, hi := r.noise()
	when := fmt.Sprintf("The run went from %s to %s UTC.", r.Started.UTC().Format("2006-01-02 15:04"), end.UTC().Format("15:04"))
	if shared == 0 {
		return fmt.Sprintf("%s No other container ran at the start of any of its %d rounds; the 1-minute load average (the bench's own included) was %.1f-%.1f on %d CPUs.", when, rounds, lo, hi, r.Env.CPUs)
	}
	return fmt.Sprintf("%s **The machine was shared and loaded**: other work's containers (other engineers' tests) were running at the start of %d of its %d rounds, up to %d at once, and the 1-minute load average (the bench's own included) was %.1f-%.1f on %d CPUs, so wall times are longer and noisier than on an idle machine; the cases of a round ran back to back, so a ratio within a round is fairer than an absolute time.",
		when, shared, rounds, most, lo, hi, r.Env.CPUs)
}

// noise is the largest max/min wall ratio between the rounds of a case,
// and the range of the load averages at the rounds' start.
func (r *Results) noise() (spread, lo, hi float64) {
	lo = -1
	for _, c := range r.Cases {
		if len(c.Rounds) > 1 && c.WallMinS > 0 {
			spread = max(spread, c.WallMaxS/c.WallMinS)
		}
		for _, rr := range c.Rounds {
			f := strings.Fields(rr.Load)
			if len(f) == 0 {
				continue
			}
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				if lo < 0 || v < lo {
					lo = v
				}
				hi = max(hi, v)
			}
		}
	}
	return spread, max(lo, 0), hi
}

// analysis says, from the numbers, where zdplay's upgrade time goes and why a
// ratio target is missed.
func (r *Results) analysis(p func(string, ...any)) {
	for _, n := range []int{2, 4} {
		zd, fl, an := r.caseNamed(fmt.Sprintf("zdplay-%d", n)), r.caseNamed(fmt.Sprintf("floor-%d", n)), r.caseNamed(fmt.Sprintf("ansible-%d", n))
		if zd == nil {
			continue
		}
		st := zd.PerReplica
		own := (zd.Steps["other_tasks"] + zd.Steps["startup"]) / float64(n)
		p("")
		p("zdplay, %d replicas, per replica: %.2f s in the two nginx reloads (%.2f s of it from the reload signal until the old workers are gone), %.2f s recreating, %.2f s waiting until healthy, %.2f s of its own (checks, compose file, bookkeeping, process start).",
			n, st["reload"], st["reload_wait"], st["recreate"], st["wait_healthy"], own)
		if fl != nil {
			p("The floor takes %.2f s per replica for the same steps (%.2f s reloads, %.2f s recreate, %.2f s healthy).",
				fl.WallMeanS/float64(n), fl.PerReplica["reload"], fl.PerReplica["recreate"], fl.PerReplica["wait_healthy"])
		}
		if ha := r.caseNamed(fmt.Sprintf("haproxy-%d", n)); ha != nil {
			p("With -e proxy=haproxy, %.2f s per replica over the runtime API (drain until the replica's sessions are 0, undrain until HAProxy sees it up) instead of %.2f s of nginx reloads, %.2f s recreating, %.2f s healthy: %.2f s per replica in all against nginx's %.2f s.",
				ha.PerReplica["runtime_api"], st["reload"], ha.PerReplica["recreate"], ha.PerReplica["wait_healthy"], ha.WallMeanS/float64(n), zd.WallMeanS/float64(n))
			hw, nw := ha.wallWithoutRecreate(), zd.wallWithoutRecreate()
			hlo, hhi := ha.recreateRange()
			nlo, nhi := zd.recreateRange()
			p("The recreate (Docker's stop, remove, create and start: the same work with either proxy) took %.1f-%.1f s per upgrade in these rounds; without it, the median upgrade took %.2f s with haproxy against %.2f s with nginx (%.2fx).",
				min(hlo, nlo), max(hhi, nhi), hw, nw, hw/nw)
		}
		if an != nil && fl != nil && an.WallS/zd.WallS < 5 {
			p("For the 5x target zdplay would have to upgrade %d replicas in %.1f s (the Ansible design took %.1f s); even the floor takes %.1f s (%.2fx): the design itself bounds the ratio, not zdplay's overhead. The seed-002 design spends no time waiting for old nginx workers nor for health, and its per-step cost is Ansible's (a Python module process per task) and docker-compose v1's (a Python start per call).",
				n, an.WallS/5, an.WallS, fl.WallS, an.WallS/fl.WallS)
		}
	}
}

// wallWithoutRecreate is the median over the rounds of the wall time minus
// the recreate step: on a loaded machine Docker's stop/create/start varies
// the most, and it is the same work whichever proxy is in front.
func (c *Case) wallWithoutRecreate() float64 {
	var v []float64
	for _, r := range c.Rounds {
		if r.WallS > 0 {
			v = append(v, r.WallS-r.Steps["recreate"])
		}
	}
	return median(v)
}

// recreateRange is the shortest and longest recreate step of the rounds.
func (c *Case) recreateRange() (lo, hi float64) {
	for i, r := range c.Rounds {
		d := r.Steps["recreate"]
		if i == 0 || d < lo {
			lo = d
		}
		hi = max(hi, d)
	}
	return lo, hi
}

// goBench returns the Benchmark lines of go-bench.txt.
func goBench(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var out strings.Builder
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "goos") || strings.HasPrefix(line, "cpu") || strings.HasPrefix(line, "pkg") {
			out.WriteString(line + "\n")
		}
	}
	return out.String()
}

func roundsText(r *Results) string {
	n := 0
	for _, c := range r.Cases {
		if c.Tool == "zdplay" {
			n = max(n, len(c.Rounds))
		}
	}
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d rounds each, interleaved", n)
}

// secs is m[k] in seconds, "-" when the tool has no such step.
func secs(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func kv(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func metText(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t / float64(len(v))
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Min(v)
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}

func cmpFloat(a, b float64) int { return cmp.Compare(a, b) }

func msOf(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 3, 64), 64)
	return v
}
