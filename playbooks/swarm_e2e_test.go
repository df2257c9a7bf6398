package playbooks

// End-to-end tests of swarm.hcl on a Swarm of 3 nodes started by the test
// on this machine (internal/swarmlab: a dockerd per network namespace),
// under real HTTP load through the proxy on the manager's bridge address.
// Run them alone: go test -count=1 -run Swarm ./playbooks/

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/zdplay/zdplay/internal/probe"
	"github.com/zdplay/zdplay/internal/swarmlab"
	"github.com/zdplay/zdplay/runner"
)

// swarmImages are the images every lab node gets.
var swarmImages = []string{
	"zdplay-demo/app:0.0.1", "zdplay-demo/app:0.0.2", "zdplay-demo/app:0.0.3-ping500",
	"zdplay-demo/nginx:local", "zdplay-demo/redis:local",
}

// swarmStack is swarm.hcl deployed on a lab.
type swarmStack struct {
	playbookRuns
	lab *swarmlab.Lab
	api *client.Client
	url string
}

const swarmProject = "zde2e"

func newSwarmStack(t *testing.T) *swarmStack {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	lab := swarmlab.Start(t, swarmlab.Options{Images: swarmImages})
	api, err := lab.Manager().Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	s := &swarmStack{playbookRuns: playbookRuns{t: t, playbook: "swarm.hcl", log: &bytes.Buffer{}}, lab: lab, api: api,
		url: fmt.Sprintf("http://%s:8000/", lab.Manager().Addr)}
	s.vars = []string{"docker_host=" + lab.Manager().Host(), "dir=" + t.TempDir(), "project=" + swarmProject,
		"port=8000", "health_timeout=5s"}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("zdplay output:\n%s", s.log)
		}
	})
	return s
}

// underLoad runs fn while 40 keep-alive clients GET through the proxy.
func (s *swarmStack) underLoad(fn func()) *probe.Report {
	s.t.Helper()
	return probeAround(s.t, probe.Options{URL: s.url, Concurrency: 40, KeepAlive: true, Duration: 10 * time.Minute}, time.Second, fn)
}

// versions GETs n times through the proxy and counts the first words.
func (s *swarmStack) versions(n int) map[string]int {
	s.t.Helper()
	seen := map[string]int{}
	for range n {
		resp, err := http.Get(s.url)
		if err != nil {
			s.t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			s.t.Fatalf("GET %s: %s %s", s.url, resp.Status, body)
		}
		seen[strings.Fields(string(body))[0]]++
	}
	return seen
}

// appTasks maps the node of each running app task to the images it runs.
func (s *swarmStack) appTasks() (byNode map[string]int, images map[string]int) {
	s.t.Helper()
	tasks, err := s.api.TaskList(context.Background(), client.TaskListOptions{Filters: client.Filters{}.
		Add("service", swarmProject+"_app").Add("desired-state", "running")})
	if err != nil {
		s.t.Fatal(err)
	}
	byNode, images = map[string]int{}, map[string]int{}
	for _, t := range tasks.Items {
		if t.Status.State == swarm.TaskStateRunning {
			byNode[t.NodeID]++
			images[t.Spec.ContainerSpec.Image]++
		}
	}
	return byNode, images
}

func (s *swarmStack) wantRelease(version string) {
	s.t.Helper()
	if seen := s.versions(30); seen["app@"+version] != 30 {
		s.t.Fatalf("the proxy served %v, want only app@%s", seen, version)
	}
	if _, images := s.appTasks(); images["zdplay-demo/app:"+version] != 3 || len(images) != 1 {
		s.t.Fatalf("running app tasks: %v, want 3 at %s", images, version)
	}
}

// TestSwarmStack walks swarm.hcl on a 3-node lab, each step under 40
// keep-alive clients through the proxy: provision spreads 3 replicas over
// the nodes; a converged re-run changes nothing; an upgrade fails no
// request; an on-demand rollback neither; a release that never turns
// healthy is rolled back by Swarm, fails the run (exit 1) and no request; a
// node drained under load moves its task and fails no request; swarm_update
// alone (start-first) neither, and changes nothing run again; teardown
// leaves nothing of the stack.
func TestSwarmStack(t *testing.T) {
	s := newSwarmStack(t)

	t.Run("provision spreads the replicas", func(t *testing.T) {
		s.t = t
		recap := s.mustRun("provision")
		t.Logf("provision: %s in %s", recap.Summary(), recap.Elapsed.Round(10*time.Millisecond))
		for _, r := range recap.Tasks {
			t.Logf("  %s %q %s: %s", r.Kind, r.Name, r.Duration.Round(time.Millisecond), r.Msg)
		}
		byNode, _ := s.appTasks()
		if len(byNode) != 3 {
			t.Fatalf("app tasks by node: %v, want one on each of 3 nodes", byNode)
		}
		s.wantRelease("0.0.1")
	})

	t.Run("converged re-run changes nothing", func(t *testing.T) {
		s.t = t
		s.mustConverge("")
	})

	t.Run("upgrade under load", func(t *testing.T) {
		s.t = t
		var took time.Duration
		report := s.underLoad(func() {
			start := time.Now()
			s.mustRun("upgrade", "version=0.0.2")
			took = time.Since(start)
		})
		t.Logf("upgrade of 3 replicas 0.0.1 -> 0.0.2: %s", took.Round(10*time.Millisecond))
		wantNoFailure(t, report, "the upgrade")
		if !versionSeen(report, "app@0.0.1") || !versionSeen(report, "app@0.0.2") {
			t.Fatalf("versions seen: %+v, want both", report.Versions)
		}
		s.wantRelease("0.0.2")
	})

	t.Run("on-demand rollback under load", func(t *testing.T) {
		s.t = t
		report := s.underLoad(func() { s.mustRun("rollback") })
		wantNoFailure(t, report, "the rollback")
		s.wantRelease("0.0.1")
	})

	t.Run("a release that never turns healthy is rolled back", func(t *testing.T) {
		s.t = t
		var err error
		report := s.underLoad(func() { _, err = s.run("upgrade", "version=0.0.3-ping500") })
		var failed *runner.TaskFailedError
		if !errors.As(err, &failed) || !strings.Contains(err.Error(), "rollback_completed") || !strings.Contains(err.Error(), "on node ") {
			t.Fatalf("upgrade to 0.0.3-ping500: err = %v, want a task failure (exit 1) saying Swarm rolled back, naming the task and its node", err)
		}
		t.Logf("the failure as reported: %v", err)
		wantNoFailure(t, report, "the failed upgrade and its rollback")
		s.wantRelease("0.0.1")
	})

	t.Run("node drained under load", func(t *testing.T) {
		s.t = t
		id, err := s.lab.NodeID(context.Background(), "n2")
		if err != nil {
			t.Fatal(err)
		}
		setAvailability := func(a swarm.NodeAvailability) {
			n, err := s.api.NodeInspect(context.Background(), id, client.NodeInspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			spec := n.Node.Spec
			spec.Availability = a
			if _, err := s.api.NodeUpdate(context.Background(), id, client.NodeUpdateOptions{Version: n.Node.Version, Spec: spec}); err != nil {
				t.Fatal(err)
			}
		}
		report := s.underLoad(func() {
			setAvailability(swarm.NodeAvailabilityDrain)
			deadline := time.Now().Add(60 * time.Second)
			for {
				byNode, images := s.appTasks()
				if byNode[id] == 0 && images["zdplay-demo/app:0.0.1"] == 3 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after draining n2: app tasks by node %v, images %v", byNode, images)
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
		setAvailability(swarm.NodeAvailabilityActive)
		wantNoFailure(t, report, "the drain")
	})

	t.Run("swarm_update start-first under load", func(t *testing.T) {
		s.t = t
		pb, diags := runner.Load("../testdata/playbooks/swarm/update.hcl")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		update := func() (*runner.Recap, error) {
			recap, diags, err := runner.Run(context.Background(), pb, runner.Options{Printer: &runner.TextPrinter{W: s.log},
				ExtraVars: []string{"docker_host=" + s.lab.Manager().Host(), "service=" + swarmProject + "_app", "image=zdplay-demo/app:0.0.2"}})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			return recap, err
		}
		var took time.Duration
		report := s.underLoad(func() {
			start := time.Now()
			if _, err := update(); err != nil {
				t.Fatalf("swarm_update: %v\n%s", err, s.log)
			}
			took = time.Since(start)
		})
		t.Logf("swarm_update of 3 replicas 0.0.1 -> 0.0.2, order=start-first: %s", took.Round(10*time.Millisecond))
		wantNoFailure(t, report, "swarm_update")
		s.wantRelease("0.0.2")
		recap, err := update()
		if err != nil || recap.Changed != 0 {
			t.Fatalf("swarm_update again: %v, %s", err, recap.Summary())
		}
	})

	t.Run("teardown", func(t *testing.T) {
		s.t = t
		s.mustRun("teardown")
		svcs, err := s.api.ServiceList(context.Background(), client.ServiceListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(svcs.Items) != 0 {
			t.Fatalf("%d services left after teardown", len(svcs.Items))
		}
	})
}
