package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/zdplay/zdplay/internal/rollout"
	"github.com/zdplay/zdplay/tasks"
)

// The rollout block's flow, without Docker: fake kinds stand for the
// replicas (a map of service -> release), the proxy and the health gate,
// and log what the engine made them do.

type fakeWorld struct {
	mu      sync.Mutex
	release map[string]string // service -> the release its container runs
	dead    map[string]bool
	bad     string // the release that never turns healthy
	log     []string
	// onReplace, when set, is called once after the first replace.
	onReplace func()
}

var world = &fakeWorld{}

func (w *fakeWorld) logf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, fmt.Sprintf(format, args...))
}

type fakeReplicas struct {
	Services []string `hcl:"services"`
	Release  string   `hcl:"release"`
}

func (t *fakeReplicas) Check(ctx context.Context, env *tasks.Env) (tasks.Result, error) {
	return t.Apply(ctx, env)
}

func (t *fakeReplicas) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	world.mu.Lock()
	defer world.mu.Unlock()
	obs := rollout.Observation{}
	for s, rel := range world.release {
		running := !world.dead[s]
		r := rollout.Replica{Service: s, Exists: true, Running: running, Serving: running && rel != world.bad,
			Current: rel == t.Release, Orphan: !slices.Contains(t.Services, s)}
		if running {
			r.Address = "10.0.0." + strings.TrimPrefix(strings.TrimPrefix(s, "app_"), "surge_")
		}
		obs[s] = r
	}
	for _, s := range t.Services {
		if _, ok := obs[s]; !ok {
			obs[s] = rollout.Replica{Service: s}
		}
	}
	return tasks.Result{Replicas: obs}, nil
}

type fakeProxy struct {
	Phase    string   `hcl:"phase"`
	Upstream []string `hcl:"upstream"`
}

func (t *fakeProxy) Check(ctx context.Context, env *tasks.Env) (tasks.Result, error) {
	return t.Apply(ctx, env)
}

func (t *fakeProxy) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	world.logf("%s %s", t.Phase, strings.Join(t.Upstream, " "))
	return tasks.Result{}, nil
}

type fakeRecreate struct {
	Services []string `hcl:"services"`
	Release  string   `hcl:"release"`
	Force    bool     `hcl:"force"`
}

func (t *fakeRecreate) Check(ctx context.Context, env *tasks.Env) (tasks.Result, error) {
	return tasks.Result{}, nil
}

func (t *fakeRecreate) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	world.mu.Lock()
	for _, s := range t.Services {
		world.release[s] = t.Release
		delete(world.dead, s)
	}
	world.mu.Unlock()
	world.logf("replace %s@%s", strings.Join(t.Services, ","), t.Release)
	if f := world.onReplace; f != nil {
		world.onReplace = nil
		f()
	}
	return tasks.Result{Changed: true}, nil
}

type fakeHealthy struct {
	Service string `hcl:"service"`
}

func (t *fakeHealthy) Check(ctx context.Context, env *tasks.Env) (tasks.Result, error) {
	return tasks.Result{}, nil
}

func (t *fakeHealthy) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	world.mu.Lock()
	defer world.mu.Unlock()
	if world.release[t.Service] == world.bad {
		return tasks.Result{}, fmt.Errorf("%s answers 500", t.Service)
	}
	return tasks.Result{}, nil
}

type fakeRetire struct {
	Keep []string `hcl:"keep"`
}

func (t *fakeRetire) Check(ctx context.Context, env *tasks.Env) (tasks.Result, error) {
	return tasks.Result{}, nil
}

func (t *fakeRetire) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	world.mu.Lock()
	var gone []string
	for s := range world.release {
		if !slices.Contains(t.Keep, s) {
			delete(world.release, s)
			gone = append(gone, s)
		}
	}
	world.mu.Unlock()
	sort.Strings(gone)
	world.logf("retire %s", strings.Join(gone, ","))
	return tasks.Result{Changed: true}, nil
}

// The fake kinds of the construct tests: the rollout's here, the
// bluegreen block's in bluegreen_test.go.
func init() {
	for name, k := range map[string]func() tasks.Task{
		"fake_replicas":      func() tasks.Task { return &fakeReplicas{} },
		"fake_proxy":         func() tasks.Task { return &fakeProxy{} },
		"fake_recreate":      func() tasks.Task { return &fakeRecreate{} },
		"fake_healthy":       func() tasks.Task { return &fakeHealthy{} },
		"fake_retire":        func() tasks.Task { return &fakeRetire{} },
		"fake_bg_render":     func() tasks.Task { return &fakeBGRender{} },
		"fake_bg_containers": func() tasks.Task { return &fakeBGContainers{} },
		"fake_bg_healthy":    func() tasks.Task { return &fakeBGHealthy{} },
		"fake_bg_replicas":   func() tasks.Task { return &fakeBGReplicas{} },
		"fake_bg_switch":     func() tasks.Task { return &fakeBGSwitch{} },
	} {
		tasks.Register(name, k)
	}
}

const rolloutPlaybook = `
variable "release" {}
variable "replicas" { type = number }
variable "parallelism" {
  type    = number
  default = 1
}
variable "order" { default = "stop-first" }
variable "action" { default = "rollback" }
variable "ratio" {
  type    = number
  default = 0
}

play "p" { roles = ["r"] }

role "r" {
  rollout "app" {
    replicas          = [for i in range(var.replicas) : "app_${i + 1}"]
    release           = var.release
    fallback          = "v1"
    # The strategy as compose_app answers it, with failure_action set
    # again by its own attribute, which wins.
    update_config     = { parallelism = var.parallelism, order = var.order, failure_action = "pause" }
    failure_action    = var.action
    max_failure_ratio = var.ratio

    observe {
      task "fake_replicas" "obs" {
        services = rollout.services
        release  = rollout.release
      }
    }
    drain {
      task "fake_proxy" "drain" {
        phase    = "drain"
        upstream = [for s in rollout.upstream : s.down ? "${s.name}-" : s.name]
      }
    }
    replace {
      task "fake_recreate" "recreate" {
        services = rollout.batch
        release  = rollout.release
        force    = rollout.force
      }
      block "healthy" {
        for_each = rollout.batch
        parallel = true
        task "fake_healthy" "healthy" { service = each.value }
      }
    }
    undrain {
      task "fake_proxy" "undrain" {
        phase    = "undrain"
        upstream = [for s in rollout.upstream : s.down ? "${s.name}-" : s.name]
      }
    }
    retire {
      task "fake_retire" "retire" { keep = rollout.services }
    }
  }
}
`

// loadRolloutPlaybook loads rolloutPlaybook from a file, as a run would.
func loadRolloutPlaybook(t *testing.T) *Playbook {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rollout.hcl")
	if err := os.WriteFile(path, []byte(rolloutPlaybook), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return pb
}

func TestRolloutFlow(t *testing.T) {
	pb := loadRolloutPlaybook(t)
	for _, tc := range []struct {
		name  string
		world map[string]string // the replicas' releases before the run
		dead  []string
		bad   string
		vars  []string
		want  []string // the log, drains and undrains included when they change something
		err   string
	}{
		{
			name:  "one at a time, each drained before it is replaced",
			world: map[string]string{"app_1": "v1", "app_2": "v1"},
			vars:  []string{"release=v2", "replicas=2"},
			want: []string{
				"drain app_1- app_2", "replace app_1@v2", "undrain app_1 app_2",
				"drain app_1 app_2-", "replace app_2@v2", "undrain app_1 app_2",
				"undrain app_1 app_2",
			},
		},
		{
			name:  "converged: only the final undrain",
			world: map[string]string{"app_1": "v2", "app_2": "v2"},
			vars:  []string{"release=v2", "replicas=2"},
			want:  []string{"undrain app_1 app_2"},
		},
		{
			name:  "a dead replica is healed first, without draining the others",
			world: map[string]string{"app_1": "v1", "app_2": "v1", "app_3": "v1"},
			dead:  []string{"app_3"},
			vars:  []string{"release=v2", "replicas=3"},
			want: []string{
				"drain app_1 app_2", "replace app_3@v2", "undrain app_1 app_2 app_3",
				"drain app_1- app_2 app_3", "replace app_1@v2", "undrain app_1 app_2 app_3",
				"drain app_1 app_2- app_3", "replace app_2@v2", "undrain app_1 app_2 app_3",
				"undrain app_1 app_2 app_3",
			},
		},
		{
			name:  "scale up: the new replicas first, then the others in batches",
			world: map[string]string{"app_1": "v1", "app_2": "v1"},
			vars:  []string{"release=v2", "replicas=4", "parallelism=2"},
			want: []string{
				"drain app_1 app_2", "replace app_3,app_4@v2", "undrain app_1 app_2 app_3 app_4",
				"drain app_1- app_2- app_3 app_4", "replace app_1,app_2@v2", "undrain app_1 app_2 app_3 app_4",
				"undrain app_1 app_2 app_3 app_4",
			},
		},
		{
			name:  "scale down: the extra replicas serve until they are drained and retired",
			world: map[string]string{"app_1": "v2", "app_2": "v2", "app_3": "v2", "app_4": "v2"},
			vars:  []string{"release=v2", "replicas=2"},
			want:  []string{"drain app_1 app_2 app_3- app_4-", "retire app_3,app_4", "undrain app_1 app_2"},
		},
		{
			name:  "start-first: a surge serves before any replica is drained, and goes at the end",
			world: map[string]string{"app_1": "v1"},
			vars:  []string{"release=v2", "replicas=1", "order=start-first"},
			want: []string{
				"drain app_1", "replace surge_1@v2", "undrain app_1 surge_1",
				"drain app_1- surge_1", "replace app_1@v2", "undrain app_1 surge_1",
				"drain app_1 surge_1-", "retire surge_1", "undrain app_1",
			},
		},
		{
			name:  "a failed batch goes back, then every replica the run changed",
			world: map[string]string{"app_1": "v1", "app_2": "v1", "app_3": "v1"},
			bad:   "v3",
			vars:  []string{"release=v3", "replicas=3", "parallelism=2"},
			want: []string{
				"drain app_1- app_2- app_3", "replace app_1,app_2@v3",
				"drain app_1- app_2- app_3", "replace app_1,app_2@v1", "undrain app_1 app_2 app_3",
				"undrain app_1 app_2 app_3",
			},
			err: "release v3 did not turn healthy: every replica was rolled back to v1; fake_healthy",
		},
		{
			// Bug 6 of issue 15: 2 failed replicas of 3 are past a ratio
			// of 0.5, however many batches they took.
			name:  "the ratio counts replicas, not batches",
			world: map[string]string{"app_1": "v1", "app_2": "v1", "app_3": "v1"},
			bad:   "v3",
			vars:  []string{"release=v3", "replicas=3", "parallelism=2", "ratio=0.5"},
			want: []string{
				"drain app_1- app_2- app_3", "replace app_1,app_2@v3",
				"drain app_1- app_2- app_3", "replace app_1,app_2@v1", "undrain app_1 app_2 app_3",
				"undrain app_1 app_2 app_3",
			},
			err: "every replica was rolled back to v1",
		},
		{
			name:  "within the ratio: the failed replica goes back and the others go on",
			world: map[string]string{"app_1": "v1", "app_2": "v1", "app_3": "v1", "app_4": "v1"},
			bad:   "v3",
			vars:  []string{"release=v3", "replicas=4", "ratio=0.25"},
			want: []string{
				"drain app_1- app_2 app_3 app_4", "replace app_1@v3",
				"drain app_1- app_2 app_3 app_4", "replace app_1@v1", "undrain app_1 app_2 app_3 app_4",
				"drain app_1 app_2- app_3 app_4", "replace app_2@v3",
				"drain app_1 app_2- app_3 app_4", "replace app_2@v1", "undrain app_1 app_2 app_3 app_4",
				"undrain app_1 app_2 app_3 app_4",
			},
			err: "every replica was rolled back to v1",
		},
		{
			name:  "pause: the failed batch stays drained",
			world: map[string]string{"app_1": "v1", "app_2": "v1"},
			bad:   "v3",
			vars:  []string{"release=v3", "replicas=2", "action=pause"},
			want:  []string{"drain app_1- app_2", "replace app_1@v3"},
			err:   "paused: release v3 failed on app_1",
		},
		{
			name:  "continue: every replica is tried, the failed ones go back",
			world: map[string]string{"app_1": "v1", "app_2": "v1"},
			bad:   "v3",
			vars:  []string{"release=v3", "replicas=2", "action=continue"},
			want: []string{
				"drain app_1- app_2", "replace app_1@v3", "drain app_1- app_2", "replace app_1@v1", "undrain app_1 app_2",
				"drain app_1 app_2-", "replace app_2@v3", "drain app_1 app_2-", "replace app_2@v1", "undrain app_1 app_2",
				"undrain app_1 app_2",
			},
			err: "failed on app_1, app_2, tolerated",
		},
		{
			name:  "capacity: a replica that does not serve is not drained below replicas - parallelism",
			world: map[string]string{"app_1": "v1", "app_2": "v3"},
			bad:   "v3",
			vars:  []string{"release=v2", "replicas=2"},
			want: []string{
				// app_2 does not serve: healed first, at v2.
				"drain app_1 app_2-", "replace app_2@v2", "undrain app_1 app_2",
				"drain app_1- app_2", "replace app_1@v2", "undrain app_1 app_2",
				"undrain app_1 app_2",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			world = &fakeWorld{release: tc.world, dead: map[string]bool{}, bad: tc.bad}
			for _, s := range tc.dead {
				world.dead[s] = true
			}
			_, diags, err := Run(context.Background(), pb, Options{ExtraVars: tc.vars})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if tc.err == "" && err != nil {
				t.Fatalf("run failed: %v\nlog: %q", err, world.log)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q\nlog: %q", err, tc.err, world.log)
			}
			// Repeated drains and undrains that change nothing are no-ops
			// for a real proxy: compare the changes only.
			got, want := compact(world.log), compact(tc.want)
			if !slices.Equal(got, want) {
				t.Errorf("log\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// compact drops a line equal to the one before it.
func compact(lines []string) []string {
	var out []string
	for _, l := range lines {
		if len(out) == 0 || out[len(out)-1] != l {
			out = append(out, l)
		}
	}
	return out
}

// update_config takes Compose's names only; a key of another name is an
// error (exit 2) naming the ones it takes.
func TestRolloutUpdateConfigKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rollout.hcl")
	bad := strings.Replace(rolloutPlaybook, "order = var.order,", "ordr = var.order,", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	world = &fakeWorld{release: map[string]string{"app_1": "v1"}, dead: map[string]bool{}}
	// Preflight evaluates it: refused before the first task, with where.
	_, diags, _ = Run(context.Background(), pb, Options{ExtraVars: []string{"release=v2", "replicas=1"}})
	if !strings.Contains(diags.Error(), `rollout.hcl:24,25-102: Invalid value; update_config has no key "ordr"; its keys are parallelism, order, delay`) {
		t.Fatalf("diags = %v, want update_config's unknown key named, with where", diags)
	}
	if len(world.log) != 0 {
		t.Fatalf("it ran %q before refusing the strategy", world.log)
	}
}

// In --check nothing changes, so every observation says the same: the
// rollout still ends, each replica considered once, and changes nothing.
func TestRolloutCheckModeEnds(t *testing.T) {
	pb := loadRolloutPlaybook(t)
	world = &fakeWorld{release: map[string]string{"app_1": "v1", "app_2": "v1"}, dead: map[string]bool{"app_2": true}}
	recap, diags, err := Run(context.Background(), pb, Options{Check: true, ExtraVars: []string{"release=v2", "replicas=3"}})
	if diags.HasErrors() || err != nil {
		t.Fatal(diags, err)
	}
	if world.release["app_1"] != "v1" || len(world.release) != 2 {
		t.Fatalf("--check changed the replicas: %v", world.release)
	}
	n := 0
	for _, r := range recap.Tasks {
		if r.Kind == "fake_recreate" {
			n++
		}
	}
	if n != 2 { // app_2 and app_3 healed together, then app_1
		t.Fatalf("--check considered %d batches, want 2:\n%s", n, recap.Summary())
	}
}

// A first Ctrl-C (Options.Stop) during a batch stops the rollout before its
// next task, and a re-run resumes from what it observes: the replica
// already at the release is not replaced again.
func TestRolloutStopsBetweenTasksAndResumes(t *testing.T) {
	pb := loadRolloutPlaybook(t)
	stop := make(chan struct{})
	world = &fakeWorld{release: map[string]string{"app_1": "v1", "app_2": "v1"}, dead: map[string]bool{}}
	world.onReplace = func() { close(stop) }
	vars := []string{"release=v2", "replicas=2"}
	recap, _, err := Run(context.Background(), pb, Options{Stop: stop, ExtraVars: vars})
	if err != ErrInterrupted || recap.StoppedBefore != `fake_healthy "healthy" (app_1)` {
		t.Fatalf("err = %v, stopped before %q, want interrupted before the health wait", err, recap.StoppedBefore)
	}
	world.log = nil
	if _, _, err := Run(context.Background(), pb, Options{ExtraVars: vars}); err != nil {
		t.Fatal(err)
	}
	want := []string{"drain app_1 app_2-", "replace app_2@v2", "undrain app_1 app_2"}
	if got := compact(world.log); !slices.Equal(got, want) {
		t.Fatalf("the re-run did %q, want %q", got, want)
	}
}
