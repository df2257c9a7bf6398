package runner

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zdplay/zdplay/internal/rollout"
	"github.com/zdplay/zdplay/tasks"
)

// The bluegreen block's decisions, without Docker: fake kinds stand for the
// compose file (colour -> release), the replicas (service -> the release
// its container runs), the health gate and the proxy, and log what the
// engine made them do.

type bgWorld struct {
	rendered   map[string]string // the compose file: colour -> release
	containers map[string]string // service -> release
	bad        string            // the release that never turns healthy
	log        []string
}

var bgw = &bgWorld{}

func colourOf(service string) string { return strings.Split(service, "_")[0] }

// checkNothing is the --check of a fake that changes the world: nothing.
type checkNothing struct{}

func (checkNothing) Check(context.Context, *tasks.Env) (tasks.Result, error) {
	return tasks.Result{}, nil
}

type fakeBGRender struct {
	checkNothing
	Colours map[string]string `hcl:"colours"`
}

func (t *fakeBGRender) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	bgw.rendered = t.Colours
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(t.Colours)) {
		parts = append(parts, c+"="+t.Colours[c])
	}
	bgw.log = append(bgw.log, "render "+strings.Join(parts, " "))
	return tasks.Result{}, nil
}

// fakeBGContainers brings services up at the release the compose file
// gives their colour (op "up"), or removes them (op "remove").
type fakeBGContainers struct {
	checkNothing
	Op       string   `hcl:"op"`
	Services []string `hcl:"services"`
}

func (t *fakeBGContainers) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	for _, s := range t.Services {
		if t.Op == "up" {
			bgw.containers[s] = bgw.rendered[colourOf(s)]
		} else {
			delete(bgw.containers, s)
		}
	}
	bgw.log = append(bgw.log, t.Op+" "+strings.Join(t.Services, ","))
	return tasks.Result{}, nil
}

type fakeBGHealthy struct {
	checkNothing
	Service string `hcl:"service"`
}

func (t *fakeBGHealthy) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	if rel, ok := bgw.containers[t.Service]; !ok || rel == bgw.bad {
		return tasks.Result{}, fmt.Errorf("%s not healthy", t.Service)
	}
	return tasks.Result{}, nil
}

type fakeBGReplicas struct {
	Services []string `hcl:"services"`
}

func (t *fakeBGReplicas) Check(ctx context.Context, env *tasks.Env) (tasks.Result, error) {
	return t.Apply(ctx, env)
}

func (t *fakeBGReplicas) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	obs := rollout.Observation{}
	for _, s := range t.Services {
		rel, ok := bgw.containers[s]
		r := rollout.Replica{Service: s, Exists: ok, Running: ok, Current: ok && rel == bgw.rendered[colourOf(s)]}
		if ok {
			r.Address = "10.0.0." + s
		}
		obs[s] = r
	}
	return tasks.Result{Replicas: obs}, nil
}

type fakeBGSwitch struct {
	Upstream []string `hcl:"upstream"`
}

func (t *fakeBGSwitch) Check(context.Context, *tasks.Env) (tasks.Result, error) {
	return tasks.Result{Changed: true}, nil
}

func (t *fakeBGSwitch) Apply(context.Context, *tasks.Env) (tasks.Result, error) {
	bgw.log = append(bgw.log, "switch "+strings.Join(t.Upstream, " "))
	return tasks.Result{}, nil
}

const blueGreenPlaybook = `
variable "action" {}
variable "release" {}
variable "dir" {}

play "p" { roles = ["r"] }

role "r" {
  bluegreen "colours" {
    action  = var.action
    colours = { blue = ["blue_1", "blue_2"], green = ["green_1", "green_2"] }
    release = var.release
    state   = var.dir

    render {
      task "fake_bg_render" "compose file" { colours = bluegreen.colours }
    }
    up {
      task "fake_bg_containers" "colour" {
        op       = "up"
        services = bluegreen.services
      }
    }
    healthy {
      serial "replica" {
        for_each = bluegreen.services
        task "fake_bg_healthy" "healthy" { service = each.value }
      }
    }
    observe {
      task "fake_bg_replicas" "replicas" { services = bluegreen.services }
    }
    switch {
      task "fake_bg_switch" "switch" {
        upstream = [for s in bluegreen.upstream : s.down ? "${s.name}-" : s.name]
      }
    }
    retire {
      task "fake_bg_containers" "idle colour" {
        op       = "remove"
        services = bluegreen.services
      }
    }
  }
}
`

func TestBlueGreenFlow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bluegreen.hcl")
	if err := os.WriteFile(path, []byte(blueGreenPlaybook), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	blueLive := map[string]string{"live-colour": "blue", "live-release": "v1", "blue-release": "v1"}
	greenLive := map[string]string{"live-colour": "green", "live-release": "v2", "blue-release": "v1", "green-release": "v2"}
	both := map[string]string{"blue_1": "v1", "blue_2": "v1", "green_1": "v2", "green_2": "v2"}
	for _, tc := range []struct {
		name       string
		state      map[string]string // state file -> content before the run
		containers map[string]string
		bad        string
		action     string
		release    string
		check      bool
		want       []string          // the log
		wantState  map[string]string // state file -> content after ("": absent)
		changed    bool              // the block's recap line
		msg        string            // how that line starts
		err        string
	}{
		{
			name: "provision on a fresh dir: blue at the release", action: "provision", release: "v1",
			want:      []string{"render blue=v1", "up blue_1,blue_2", "switch blue_1 blue_2"},
			wantState: map[string]string{"live-colour": "blue", "live-release": "v1", "blue-release": "v1", "green-release": ""},
			changed:   true,
		},
		{
			name: "provision converges the recorded state: green live stays live", action: "provision", release: "v1",
			state: greenLive, containers: both,
			want:      []string{"render blue=v1 green=v2", "up green_1,green_2", "switch blue_1- blue_2- green_1 green_2"},
			wantState: greenLive,
		},
		{
			name: "deploy: the idle colour up beside the live one, then the switch", action: "deploy", release: "v2",
			state: blueLive, containers: map[string]string{"blue_1": "v1", "blue_2": "v1"},
			want: []string{
				"render blue=v1", "switch blue_1 blue_2",
				"render blue=v1 green=v2", "up green_1,green_2", "switch blue_1- blue_2- green_1 green_2",
			},
			wantState: greenLive, changed: true, msg: "green live at v2, blue idle at v1: switched to green at v2",
		},
		{
			name: "deploy of the live release changes nothing", action: "deploy", release: "v2",
			state: greenLive, containers: both,
			want:      []string{"render blue=v1 green=v2", "switch blue_1- blue_2- green_1 green_2"},
			wantState: greenLive,
		},
		{
			name: "a release that does not turn healthy is never switched to", action: "deploy", release: "v3", bad: "v3",
			state: greenLive, containers: both,
			want: []string{
				"render blue=v1 green=v2", "switch blue_1- blue_2- green_1 green_2",
				"render blue=v3 green=v2", "up blue_1,blue_2",
			},
			wantState: map[string]string{"live-colour": "green", "live-release": "v2", "blue-release": "v3"},
			changed:   true,
			err:       "release v3 did not turn healthy on blue (see the failed task above): the proxy was not switched, green (v2) still serves every request",
		},
		{
			// A deploy killed between its switch and its record: the
			// proxy serves green, the files still say blue.
			name: "an interrupted switch: back to the recorded live colour first", action: "deploy", release: "v3",
			state: map[string]string{"live-colour": "blue", "live-release": "v1", "blue-release": "v1", "green-release": "v2"}, containers: both,
			want: []string{
				"render blue=v1 green=v2", "switch blue_1 blue_2 green_1- green_2-",
				"render blue=v1 green=v3", "up green_1,green_2", "switch blue_1- blue_2- green_1 green_2",
			},
			wantState: map[string]string{"live-colour": "green", "live-release": "v3", "green-release": "v3"},
			changed:   true,
		},
		{
			name: "switchback to the idle colour", action: "switchback", release: "v9",
			state: greenLive, containers: both,
			want:      []string{"render blue=v1 green=v2", "switch blue_1 blue_2 green_1- green_2-"},
			wantState: map[string]string{"live-colour": "blue", "live-release": "v1", "blue-release": "v1", "green-release": "v2"},
			changed:   true,
		},
		{
			name: "no switchback to a retired colour", action: "switchback", release: "v9",
			state: blueLive, containers: map[string]string{"blue_1": "v1", "blue_2": "v1"},
			want:      []string{"render blue=v1"},
			wantState: blueLive,
			err:       "there is no colour to switch back to: green was never deployed or was retired (green-release is absent); blue (v1) stays live",
		},
		{
			name: "no switchback to a colour that does not run its recorded release", action: "switchback", release: "v9",
			state: greenLive, containers: map[string]string{"blue_1": "v0", "green_1": "v2", "green_2": "v2"},
			want:      []string{"render blue=v1 green=v2"},
			wantState: greenLive,
			err:       "blue does not run its recorded release v1 (blue_1 differs from the compose file; blue_2 has no container): not switched",
		},
		{
			name: "no switchback to a colour that is not healthy", action: "switchback", release: "v9", bad: "v1",
			state: greenLive, containers: both,
			want:      []string{"render blue=v1 green=v2"},
			wantState: greenLive,
			err:       "blue_1 not healthy",
		},
		{
			name: "retire: the idle colour out of the proxy, removed and forgotten", action: "retire", release: "v9",
			state: greenLive, containers: both,
			want: []string{
				"render blue=v1 green=v2", "switch blue_1- blue_2- green_1 green_2",
				"remove blue_1,blue_2", "render green=v2", "switch green_1 green_2",
			},
			wantState: map[string]string{"live-colour": "green", "live-release": "v2", "green-release": "v2", "blue-release": ""},
			changed:   true, msg: "green live at v2: retired blue",
		},
		{
			name: "--check writes no state", action: "deploy", release: "v2", check: true,
			state: blueLive, containers: map[string]string{"blue_1": "v1", "blue_2": "v1"},
			want:      []string{},
			wantState: map[string]string{"live-colour": "blue", "green-release": ""},
			changed:   true,
		},
		{
			name: "a live-colour file that names no colour", action: "deploy", release: "v2",
			state:     map[string]string{"live-colour": "purple"},
			want:      []string{},
			wantState: map[string]string{"live-colour": "purple"},
			err:       `live-colour says the live colour is "purple", not blue or green: fix or remove it`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, v := range tc.state {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			bgw = &bgWorld{containers: map[string]string{}, bad: tc.bad, log: []string{}}
			maps.Copy(bgw.containers, tc.containers)
			recap, diags, err := Run(context.Background(), pb, Options{
				Check:     tc.check,
				ExtraVars: []string{"action=" + tc.action, "release=" + tc.release, "dir=" + dir},
			})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("err = %v, want it to say %q", err, tc.err)
			}
			// The converging switch before a deploy changes nothing when
			// nothing was interrupted; the fake proxy logs every switch.
			if got := strings.Join(bgw.log, " | "); got != strings.Join(tc.want, " | ") {
				t.Fatalf("log:\n  %s\nwant:\n  %s", got, strings.Join(tc.want, " | "))
			}
			for name, want := range tc.wantState {
				b, _ := os.ReadFile(filepath.Join(dir, name))
				if got := strings.TrimSpace(string(b)); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if tc.err == "" {
				line := recap.Tasks[len(recap.Tasks)-1]
				if line.Kind != blockBlueGreen || (line.Status == StatusChanged) != tc.changed {
					t.Errorf("last recap line %s %q: %s (%s), want the bluegreen block, changed %v", line.Kind, line.Name, line.Status, line.Msg, tc.changed)
				}
				if tc.msg != "" && !strings.HasPrefix(line.Msg, tc.msg) {
					t.Errorf("its message %q, want it to start %q", line.Msg, tc.msg)
				}
			}
		})
	}
}
