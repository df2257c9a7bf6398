package tasks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/docker/dockertest"
	"github.com/zdplay/zdplay/internal/errtest"
)

// --- helpers shared by the compose task tests (dk prefix: the package is shared) ---

var (
	dkOnce sync.Once
	dkSkip string // why Docker tests skip, "" when they can run
	dkErr  error  // building the test images failed
)

// dkEngine skips the test without a Docker engine and builds the test images
// once per test binary.
func dkEngine(t *testing.T) {
	t.Helper()
	dkOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		dkSkip, dkErr = dockertest.Engine(ctx)
	})
	if dkSkip != "" {
		t.Skip(dkSkip)
	}
	if dkErr != nil {
		t.Fatal(dkErr)
	}
}

// dkEnv returns an Env whose BaseDir holds compose.yaml (body), a fresh
// project name, torn down with its volumes when the test ends.
func dkEnv(t *testing.T, body string) (*Env, string) {
	t.Helper()
	dkEngine(t)
	dir := t.TempDir()
	t.Chdir(dir) // the tasks' relative paths resolve against the working directory
	dockertest.WriteFile(t, dir, "compose.yaml", body)
	project := dockertest.ProjectName()
	env := &Env{BaseDir: dir, Shared: &Shared{}, Progress: func(string, ...any) {}}
	t.Cleanup(func() {
		dockertest.Teardown(t, project, func(ctx context.Context) error {
			c, err := env.Shared.Docker(ctx)
			if err != nil {
				return err
			}
			return c.Down(ctx, project, true)
		})
		_ = env.Shared.Close()
	})
	return env, project
}

func dkClient(t *testing.T, env *Env) *docker.Client {
	t.Helper()
	c, err := env.Shared.Docker(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dkContainer(t *testing.T, env *Env, project, service string) docker.Container {
	t.Helper()
	ctr, err := dkClient(t, env).ContainerOf(context.Background(), project, service)
	if err != nil {
		t.Fatal(err)
	}
	return ctr
}

// dkRun runs Check or Apply and fails the test on error.
func dkRun(t *testing.T, env *Env, task Task, apply bool) Result {
	t.Helper()
	var (
		res Result
		err error
	)
	if apply {
		res, err = task.Apply(context.Background(), env)
	} else {
		res, err = task.Check(context.Background(), env)
	}
	if err != nil {
		t.Fatalf("%T apply=%v: %v", task, apply, err)
	}
	return res
}

// dkStack is the shared test stack: db, app_1 (with a healthcheck) and app_2.
const dkStack = dockertest.Stack

// --- no Docker needed -------------------------------------------------------

// TestComposeKindsDecode decodes each kind from HCL as the runner does, so
// the gohcl tags (required and optional attributes) are what the docs say.
func TestComposeKindsDecode(t *testing.T) {
	src := map[string]string{
		"compose_up":       `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `services = ["a", "b"]`,
		"compose_check":    `file = "c.yaml"` + "\n" + `project = "p"`,
		"compose_outdated": `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `service = "a"`,
		"compose_recreate": `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `service = "a"` + "\n" + `force = true`,
		"compose_exec":     `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `service = "a"` + "\n" + `command = ["nginx", "-t"]`,
		"compose_down":     `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `volumes = true`,
		"wait_healthy":     `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `service = "a"` + "\n" + `interval = "50ms"` + "\n" + `path = "/health"` + "\n" + `port = 8080` + "\n" + `successes = 2`,
		"proxy_reload":     `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `conf = "n.conf"` + "\n" + `service = "nginx"` + "\n" + `force = true`,
	}
	for kind, body := range src {
		k, ok := Lookup(kind)
		if !ok {
			t.Fatalf("%s not registered", kind)
		}
		f, diags := hclparse.NewParser().ParseHCL([]byte(body), kind+".hcl")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		task := k.New()
		if diags := gohcl.DecodeBody(f.Body, nil, task); diags.HasErrors() {
			t.Errorf("%s: %v", kind, diags)
		}
	}
	// the optional attributes may be left out
	minimal := map[string]string{
		"compose_up":       `file = "c.yaml"` + "\n" + `project = "p"`,
		"compose_recreate": `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `service = "a"`,
		"compose_down":     `file = "c.yaml"` + "\n" + `project = "p"`,
		"wait_healthy":     `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `service = "a"`,
		"proxy_reload":     `file = "c.yaml"` + "\n" + `project = "p"` + "\n" + `conf = "n.conf"`,
	}
	for kind, body := range minimal {
		k, _ := Lookup(kind)
		f, _ := hclparse.NewParser().ParseHCL([]byte(body), kind+".hcl")
		if diags := gohcl.DecodeBody(f.Body, nil, k.New()); diags.HasErrors() {
			t.Errorf("%s minimal: %v", kind, diags)
		}
	}
	// and the required ones may not
	k, _ := Lookup("compose_outdated")
	f, _ := hclparse.NewParser().ParseHCL([]byte(`file = "c.yaml"`), "x.hcl")
	if diags := gohcl.DecodeBody(f.Body, nil, k.New()); !diags.HasErrors() {
		t.Error("compose_outdated without project and service decoded")
	}
}

func TestWaitHealthyDefaultsAndValidation(t *testing.T) {
	s, err := (&WaitHealthy{File: "f", Project: "p", Service: "a"}).spec()
	if err != nil {
		t.Fatal(err)
	}
	if s.timeout != 0 || s.interval != 100*time.Millisecond || s.path != "/ping" || s.port != 3000 || s.successes != 3 {
		t.Errorf("defaults %+v", s)
	}
	for _, bad := range []*WaitHealthy{
		{Service: "a", Interval: "soon"},
		{Service: "a", Interval: "-1s"},
		{Service: "a", Port: 70000},
		{Service: "a", Successes: -1},
		{Service: ""},
	} {
		if err := bad.Validate(nil); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
	if err := (&WaitHealthy{Service: "a", Interval: "soon"}).Validate(nil); err == nil || !strings.Contains(err.Error(), `like "60s"`) {
		t.Errorf("duration error does not say how to write one: %v", err)
	}
	if err := (&ComposeExec{Service: "a"}).Validate(nil); err == nil {
		t.Error("compose_exec without command validated")
	}
}

func TestComposeTasksFailWithoutFile(t *testing.T) {
	env := &Env{BaseDir: t.TempDir(), Shared: &Shared{}}
	_, err := (&ComposeUp{File: "missing.yaml", Project: "zdplaytest-x"}).Apply(context.Background(), env)
	errtest.Says(t, err, "compose_up", "missing.yaml", "no such file")
	_, err = (&ComposeCheck{File: "c.yaml"}).Apply(context.Background(), env)
	errtest.Says(t, err, "project is empty")
}

// --- against the engine -----------------------------------------------------

func TestComposeUpOutdatedRecreateExec(t *testing.T) {
	env, project := dkEnv(t, dkStack)
	up := &ComposeUp{File: "compose.yaml", Project: project}

	if res := dkRun(t, env, up, false); !res.Changed || !strings.Contains(res.Msg, "would bring up") {
		t.Fatalf("check from nothing: %+v", res)
	}
	if res := dkRun(t, env, up, true); !res.Changed {
		t.Fatalf("first apply: %+v", res)
	}
	if res := dkRun(t, env, up, true); res.Changed {
		t.Fatalf("second apply changed: %+v", res)
	}
	if res := dkRun(t, env, up, false); res.Changed {
		t.Fatalf("check after apply: %+v", res)
	}
	ids := map[string]string{}
	for _, s := range []string{"db", "app_1", "app_2"} {
		ids[s] = dkContainer(t, env, project, s).ID
	}

	// compose_outdated is never changed: it answers outputs.outdated.
	isOutdated := func(res Result) bool {
		names, _ := res.Outputs["outdated"].([]string)
		return !res.Changed && len(names) == 1 && names[0] == "app_1"
	}
	outdated := &ComposeOutdated{File: "compose.yaml", Project: project, Service: "app_1"}
	if res := dkRun(t, env, outdated, true); res.Changed || isOutdated(res) {
		t.Fatalf("outdated right after up: %+v", res)
	}
	v2 := []byte(strings.Replace(dkStack, "app_1:\n    image: zdplay-test/tiny:1", "app_1:\n    image: zdplay-test/tiny:2", 1))
	file := filepath.Join(env.BaseDir, "compose.yaml")

	// --check: what an earlier task staged for the file is what counts.
	checkEnv := &Env{BaseDir: env.BaseDir, Shared: &Shared{}}
	defer checkEnv.Shared.Close()
	checkEnv.Shared.Stage(file, v2)
	if res := dkRun(t, checkEnv, outdated, false); !isOutdated(res) || !strings.Contains(res.Msg, "zdplay-test/tiny:2") {
		t.Fatalf("outdated with a staged file: %+v", res)
	}
	if res := dkRun(t, checkEnv, &ComposeUp{File: "compose.yaml", Project: project}, false); !res.Changed || !strings.Contains(res.Msg, "app_1: image") {
		t.Fatalf("compose_up check with a staged file: %+v", res)
	}

	// app_1 now runs :2
	if err := os.WriteFile(file, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, apply := range []bool{false, true} {
		res := dkRun(t, env, outdated, apply)
		if !isOutdated(res) || !strings.Contains(res.Outputs["reasons"].([]string)[0], "image zdplay-test/tiny:1 -> zdplay-test/tiny:2") {
			t.Fatalf("outdated after the tag change (apply=%v): %+v", apply, res)
		}
	}
	if res := dkRun(t, env, &ComposeOutdated{File: "compose.yaml", Project: project, Service: "app_2"}, true); res.Changed || len(res.Outputs["outdated"].([]string)) != 0 {
		t.Fatalf("app_2 outdated: %+v", res)
	}

	recreate := &ComposeRecreate{File: "compose.yaml", Project: project, Service: "app_1"}
	if res := dkRun(t, env, recreate, false); !res.Changed || !strings.Contains(res.Msg, "would recreate app_1") {
		t.Fatalf("recreate check: %+v", res)
	}
	if dkContainer(t, env, project, "app_1").ID != ids["app_1"] {
		t.Fatal("check recreated app_1")
	}
	start := time.Now()
	if res := dkRun(t, env, recreate, true); !res.Changed {
		t.Fatalf("recreate: %+v", res)
	}
	recreated := time.Since(start)
	wait := &WaitHealthy{File: "compose.yaml", Project: project, Service: "app_1"}
	res := dkRun(t, env, wait, true)
	t.Logf("compose_recreate app_1: %s; then wait_healthy: %s (%s)", recreated.Round(time.Millisecond), (time.Since(start) - recreated).Round(time.Millisecond), res.Msg)
	if res.Changed {
		t.Error("wait_healthy changed")
	}
	ctr := dkContainer(t, env, project, "app_1")
	if ctr.ID == ids["app_1"] || ctr.Image != "zdplay-test/tiny:2" || ctr.Health != "healthy" {
		t.Fatalf("app_1 after recreate: %+v", ctr)
	}
	for _, s := range []string{"db", "app_2"} {
		if id := dkContainer(t, env, project, s).ID; id != ids[s] {
			t.Errorf("%s was recreated along with app_1", s)
		}
	}
	if res := dkRun(t, env, recreate, true); res.Changed {
		t.Fatalf("recreate again: %+v", res)
	}
	if res := dkRun(t, env, up, true); res.Changed {
		t.Fatalf("up after recreate: %+v", res)
	}
	forced := &ComposeRecreate{File: "compose.yaml", Project: project, Service: "app_2", Force: true}
	if res := dkRun(t, env, forced, true); !res.Changed {
		t.Fatalf("forced recreate: %+v", res)
	}

	exec := &ComposeExec{File: "compose.yaml", Project: project, Service: "app_1", Command: []string{"/tiny", "-check"}}
	if res := dkRun(t, env, exec, false); res.Changed || !strings.Contains(res.Msg, "would run") {
		t.Fatalf("exec check: %+v", res)
	}
	if res := dkRun(t, env, exec, true); !res.Changed || res.RC != 0 || res.Stdout != "check: ok\n" {
		t.Fatalf("exec: %+v", res)
	}
	exec.Command = []string{"/tiny"} // :3000 is taken: exits 1
	res, err := exec.Apply(context.Background(), env)
	errtest.Says(t, err, "exited with rc=1", "address already in use")
	if res.RC != 1 || !strings.Contains(res.Stdout, "address already in use") {
		t.Errorf("failed exec result: %+v", res)
	}
}

func TestComposeCheckTask(t *testing.T) {
	env, project := dkEnv(t, dkStack)
	check := &ComposeCheck{File: "compose.yaml", Project: project}
	if res := dkRun(t, env, check, true); res.Changed || !strings.Contains(res.Msg, "3 services") {
		t.Fatalf("%+v", res)
	}
	if res := dkRun(t, env, check, false); res.Changed {
		t.Fatalf("%+v", res)
	}

	dockertest.WriteFile(t, env.BaseDir, "missing-image.yaml", strings.Replace(dkStack, "zdplay-test/tiny:1", "zdplay-test/nope:9", 1))
	_, err := (&ComposeCheck{File: "missing-image.yaml", Project: project}).Apply(context.Background(), env)
	errtest.Says(t, err, "zdplay-test/nope:9 (service db)", "make images")
	// compose_up checks images before changing anything
	_, err = (&ComposeUp{File: "missing-image.yaml", Project: project}).Apply(context.Background(), env)
	errtest.Says(t, err, "zdplay-test/nope:9")
	if n, _ := dkClient(t, env).ProjectContainers(context.Background(), project); n != 0 {
		t.Fatalf("compose_up created %d containers before failing on a missing image", n)
	}

	dockertest.WriteFile(t, env.BaseDir, "bad.yaml", "services:\n  app:\n    image: [zdplay-test/tiny:1\n")
	_, err = (&ComposeCheck{File: "bad.yaml", Project: project}).Apply(context.Background(), env)
	errtest.Says(t, err, "compose_check", "bad.yaml", "does not load")

	dockertest.WriteFile(t, env.BaseDir, "schema.yaml", "services:\n  app:\n    image: zdplay-test/tiny:1\n    restart: sometimes\n    helthcheck: {}\n")
	_, err = (&ComposeCheck{File: "schema.yaml", Project: project}).Apply(context.Background(), env)
	errtest.Says(t, err, "schema.yaml", "helthcheck")
}

func TestComposeDownTask(t *testing.T) {
	env, project := dkEnv(t, dkStack)
	dkRun(t, env, &ComposeUp{File: "compose.yaml", Project: project, Services: []string{"app_2"}}, true)
	if n, _ := dkClient(t, env).ProjectContainers(context.Background(), project); n != 2 {
		t.Fatalf("up app_2 (and its db) made %d containers", n)
	}
	down := &ComposeDown{File: "compose.yaml", Project: project, Volumes: true}
	if res := dkRun(t, env, down, false); !res.Changed {
		t.Fatalf("%+v", res)
	}
	if res := dkRun(t, env, down, true); !res.Changed || !strings.Contains(res.Msg, "2 container") {
		t.Fatalf("%+v", res)
	}
	if res := dkRun(t, env, down, true); res.Changed {
		t.Fatalf("down again: %+v", res)
	}
}

func TestComposeRemoveTask(t *testing.T) {
	env, project := dkEnv(t, dkStack)
	dkRun(t, env, &ComposeUp{File: "compose.yaml", Project: project}, true)
	c := dkClient(t, env)
	keep, err := c.ContainerOf(context.Background(), project, "app_1")
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	rm := &ComposeRemove{Project: project, Services: []string{"app_2"}, GracePeriod: &zero}
	if res := dkRun(t, env, rm, false); !res.Changed || !strings.Contains(res.Msg, "would remove") {
		t.Fatalf("check: %+v", res)
	}
	if res := dkRun(t, env, rm, true); !res.Changed || !strings.Contains(res.Msg, "app_2") {
		t.Fatalf("apply: %+v", res)
	}
	if _, err := c.ContainerOf(context.Background(), project, "app_2"); !composeNoContainer(err) {
		t.Fatalf("app_2 still has a container: %v", err)
	}
	if again, _ := c.ContainerOf(context.Background(), project, "app_1"); again.ID != keep.ID || !again.Running {
		t.Fatal("removing app_2 touched app_1")
	}
	if res := dkRun(t, env, rm, true); res.Changed {
		t.Fatalf("remove again: %+v", res)
	}
}

// TestComposeRemoveOrphansTask removes what the file no longer lists, and
// nothing else.
func TestComposeRemoveOrphansTask(t *testing.T) {
	env, project := dkEnv(t, dkStack)
	dkRun(t, env, &ComposeUp{File: "compose.yaml", Project: project}, true)
	keep := dkContainer(t, env, project, "app_1")
	zero := 0
	rm := &ComposeRemove{File: "compose.yaml", Project: project, Orphans: true, GracePeriod: &zero}
	if res := dkRun(t, env, rm, true); res.Changed || !strings.Contains(res.Msg, "no orphan") {
		t.Fatalf("nothing orphaned yet: %+v", res)
	}
	// app_2 leaves the file: it is the orphan.
	dockertest.WriteFile(t, env.BaseDir, "compose.yaml", strings.Replace(dkStack, "  app_2:", "  gone_app_2:", 1))
	if res := dkRun(t, env, rm, false); !res.Changed || !strings.Contains(res.Msg, "would remove "+project+"-app_2-1") {
		t.Fatalf("check: %+v", res)
	}
	if res := dkRun(t, env, rm, true); !res.Changed || !strings.Contains(res.Msg, "app_2") || strings.Contains(res.Msg, "app_1") {
		t.Fatalf("apply: %+v", res)
	}
	if _, err := dkClient(t, env).ContainerOf(context.Background(), project, "app_2"); !composeNoContainer(err) {
		t.Fatalf("app_2 still has a container: %v", err)
	}
	if again := dkContainer(t, env, project, "app_1"); again.ID != keep.ID || !again.Running {
		t.Fatal("removing orphans touched app_1")
	}
	for _, bad := range []*ComposeRemove{
		{Project: project, Orphans: true},
		{Project: project, File: "compose.yaml", Orphans: true, Services: []string{"app_1"}},
		{Project: project},
	} {
		if _, err := bad.Check(context.Background(), env); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
