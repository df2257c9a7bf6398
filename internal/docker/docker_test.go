package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/network"

	"github.com/zdplay/zdplay/internal/docker/dockertest"
)

// engineErr is why integration tests skip ("" when the engine is reachable
// and the test images are built).
var engineErr string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	skip, err := dockertest.Engine(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the test images:", err)
		os.Exit(1)
	}
	engineErr = skip
	os.Exit(m.Run())
}

// connect returns a client, or skips when there is no engine.
func connect(t *testing.T) *Client {
	t.Helper()
	if engineErr != "" {
		t.Skip(engineErr)
	}
	c, err := Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newProject writes a compose file and loads it under a fresh project name,
// torn down (volumes included) when the test ends.
func newProject(t *testing.T, c *Client, body string) (*types.Project, string) {
	t.Helper()
	name := dockertest.ProjectName()
	file := dockertest.WriteFile(t, t.TempDir(), "compose.yaml", body)
	t.Cleanup(func() {
		dockertest.Teardown(t, name, func(ctx context.Context) error { return c.Down(ctx, name, true) })
	})
	p, err := LoadProject(context.Background(), file, name)
	if err != nil {
		t.Fatal(err)
	}
	return p, file
}

// threeServices is the shared test stack: db, app_1 (with a healthcheck and
// a 3s stop_grace_period) and app_2.
const threeServices = dockertest.Stack

// --- no Docker needed -------------------------------------------------------

func TestLoadProjectAddsComposeLabels(t *testing.T) {
	dir := t.TempDir()
	file := dockertest.WriteFile(t, dir, "compose.yaml", threeServices)
	p, err := LoadProject(context.Background(), file, "zdplaytest-labels")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "zdplaytest-labels" {
		t.Errorf("name %q", p.Name)
	}
	if got := strings.Join(p.ServiceNames(), ","); got != "app_1,app_2,db" {
		t.Errorf("services %s", got)
	}
	for name, s := range p.Services {
		want := map[string]string{
			api.ProjectLabel:     "zdplaytest-labels",
			api.ServiceLabel:     name,
			api.WorkingDirLabel:  dir,
			api.ConfigFilesLabel: file,
			api.OneoffLabel:      "False",
		}
		for k, v := range want {
			if s.CustomLabels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", name, k, s.CustomLabels[k], v)
			}
		}
		if _, ok := s.CustomLabels[api.VersionLabel]; !ok {
			t.Errorf("%s: no %s label", name, api.VersionLabel)
		}
	}
	if d := p.Services["app_1"].StopGracePeriod; d == nil || time.Duration(*d) != 3*time.Second {
		t.Errorf("stop_grace_period %v", d)
	}
}

func TestLoadProjectInterpolatesDotEnv(t *testing.T) {
	dir := t.TempDir()
	dockertest.WriteFile(t, dir, ".env", "TAG=2\n")
	file := dockertest.WriteFile(t, dir, "compose.yaml", "services:\n  app:\n    image: zdplay-test/tiny:${TAG}\n")
	p, err := LoadProject(context.Background(), file, "zdplaytest-env")
	if err != nil {
		t.Fatal(err)
	}
	if img := p.Services["app"].Image; img != "zdplay-test/tiny:2" {
		t.Errorf("image %q", img)
	}
}

func TestLoadProjectErrorsNameFileAndProblem(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, body string
		want       []string
	}{
		{"yaml", "services:\n  app:\n    image: [unclosed\n", []string{"bad-yaml.yaml", "does not load", "yaml"}},
		{"schema", "services:\n  app:\n    image: x\n    imagee: y\n", []string{"bad-schema.yaml", "imagee"}},
		{"type", "services:\n  app:\n    image: x\n    ports: 12\n", []string{"bad-type.yaml", "ports"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := dockertest.WriteFile(t, dir, "bad-"+tc.name+".yaml", tc.body)
			_, err := LoadProject(context.Background(), file, "zdplaytest-bad")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	_, err := LoadProject(context.Background(), filepath.Join(dir, "nope.yaml"), "zdplaytest-bad")
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	_, err = LoadProject(context.Background(), dockertest.WriteFile(t, dir, "ok.yaml", threeServices), "Bad Name")
	if err == nil || !strings.Contains(err.Error(), "invalid project name") {
		t.Errorf("bad project name: %v", err)
	}
}

func TestServiceHash(t *testing.T) {
	file := dockertest.WriteFile(t, t.TempDir(), "compose.yaml", threeServices)
	p, err := LoadProject(context.Background(), file, "zdplaytest-hash")
	if err != nil {
		t.Fatal(err)
	}
	base := p.Services["app_1"]
	h := func(s types.ServiceConfig) string {
		t.Helper()
		v, err := ServiceHash(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	h0 := h(base)
	if h0 != h(p.Services["app_1"]) {
		t.Fatal("hash not stable")
	}
	img := base
	img.Image = "zdplay-test/tiny:2"
	if h(img) == h0 {
		t.Error("image change does not change the hash")
	}
	env := base
	env.Environment = types.MappingWithEquals{"TINY_VERSION": ptr("2")}
	if h(env) == h0 {
		t.Error("environment change does not change the hash")
	}
	deps := base
	deps.DependsOn = nil
	deps.PullPolicy = types.PullPolicyNever
	deps.CustomLabels = nil
	if h(deps) != h0 {
		t.Error("depends_on, pull_policy or Compose's labels change the hash; they must not")
	}
}

func ptr[T any](v T) *T { return &v }

func TestParseTop(t *testing.T) {
	got := parseTop([]string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}, [][]string{
		{"root", "10", "1", "0", "10:00", "?", "00:00:00", "nginx: master process nginx -g daemon off;"},
		{"101", "11", "10", "0", "10:00", "?", "00:00:00", "nginx: worker process"},
	})
	if len(got) != 2 || got[1].PID != "11" || got[1].PPID != "10" || got[1].Cmd != "nginx: worker process" {
		t.Errorf("%+v", got)
	}
}

func TestProjectIP(t *testing.T) {
	eps := map[string]*network.EndpointSettings{
		"bridge":      {IPAddress: netip.MustParseAddr("172.17.0.2")},
		"other_net":   {},
		"p_front":     {IPAddress: netip.MustParseAddr("172.30.0.3")},
		"aaa_unnamed": {IPAddress: netip.MustParseAddr("172.31.0.4")},
	}
	if ip := projectIP("p", eps); ip != "172.30.0.3" {
		t.Errorf("got %s", ip)
	}
	if ip := projectIP("q", eps); ip != "172.31.0.4" {
		t.Errorf("fallback got %s", ip)
	}
}

func TestMissingImagesError(t *testing.T) {
	p := &types.Project{Name: "p", Services: types.Services{
		"a": {Name: "a", ContainerSpec: types.ContainerSpec{Image: "x:1"}},
		"b": {Name: "b", ContainerSpec: types.ContainerSpec{Image: "x:1"}},
	}}
	err := MissingImagesError(p, []string{"x:1"})
	if err == nil || !strings.Contains(err.Error(), "x:1 (service a, b)") || !strings.Contains(err.Error(), "make images") {
		t.Errorf("%v", err)
	}
	if MissingImagesError(p, nil) != nil {
		t.Error("error without missing images")
	}
}

func TestConnectUnreachableFailsFast(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	t.Setenv("DOCKER_CONTEXT", "")
	start := time.Now()
	_, err := Connect(context.Background())
	if err == nil {
		t.Fatal("connected to nothing")
	}
	if d := time.Since(start); d > PingTimeout+time.Second {
		t.Errorf("took %s", d)
	}
	for _, w := range []string{"is dockerd running", "DOCKER_HOST=unix://"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// --- against the engine -----------------------------------------------------

func TestUpOutdatedRecreateExec(t *testing.T) {
	start := time.Now()
	c := connect(t)
	t.Logf("Connect: %s (API %s, %s)", time.Since(start).Round(time.Millisecond), c.APIVersion(), c.Host())
	ctx := context.Background()
	p, file := newProject(t, c, threeServices)

	plan, err := c.Plan(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Changed || len(plan.Reasons) != 3 || plan.Reasons["db"] != "no container" {
		t.Fatalf("plan from nothing: %+v", plan)
	}
	start = time.Now()
	res, err := c.Up(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Up of 3 services from nothing: %s, steps %q", time.Since(start).Round(time.Millisecond), res.Steps)
	if !res.Changed || len(res.Reasons) != 3 {
		t.Fatalf("first up: %+v", res)
	}
	ids := map[string]string{}
	for _, s := range []string{"db", "app_1", "app_2"} {
		ctr, err := c.ContainerOf(ctx, p.Name, s)
		if err != nil {
			t.Fatal(err)
		}
		if !ctr.Running || ctr.IP == "" {
			t.Fatalf("%s: %+v", s, ctr)
		}
		ids[s] = ctr.ID
	}

	start = time.Now()
	res, err = c.Up(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Up again (nothing to do): %s", time.Since(start).Round(time.Millisecond))
	if res.Changed {
		t.Fatalf("second up changed: %+v", res)
	}
	start = time.Now()
	out, why, err := c.Outdated(ctx, p, "app_1")
	t.Logf("Outdated: %s", time.Since(start).Round(time.Millisecond))
	if err != nil || out {
		t.Fatalf("outdated right after up: %v %q %v", out, why, err)
	}

	// The file now runs app_1 from :2.
	os.WriteFile(file, []byte(strings.Replace(threeServices, "app_1:\n    image: zdplay-test/tiny:1", "app_1:\n    image: zdplay-test/tiny:2", 1)), 0o644)
	p2, err := LoadProject(ctx, file, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	out, why, err = c.Outdated(ctx, p2, "app_1")
	if err != nil || !out || why != "image zdplay-test/tiny:1 -> zdplay-test/tiny:2" {
		t.Fatalf("after tag change: %v %q %v", out, why, err)
	}
	if out, why, _ := c.Outdated(ctx, p2, "app_2"); out {
		t.Fatalf("app_2 outdated: %s", why)
	}
	plan, err = c.Plan(ctx, p2, "app_2")
	if err != nil || plan.Changed {
		t.Fatalf("plan app_2: %+v %v", plan, err)
	}

	start = time.Now()
	res, err = c.Recreate(ctx, p2, []string{"app_1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	recreated := time.Now()
	t.Logf("Recreate app_1 (stop_grace_period 3s, exits on SIGTERM): %s, steps %q", recreated.Sub(start).Round(time.Millisecond), res.Steps)
	if !res.Changed {
		t.Fatalf("recreate: %+v", res)
	}
	for {
		ctr, err := c.ContainerOf(ctx, p.Name, "app_1")
		if err != nil {
			t.Fatal(err)
		}
		if ctr.Health == "healthy" {
			t.Logf("app_1 healthy %s after Recreate returned", time.Since(recreated).Round(time.Millisecond))
			break
		}
		if time.Since(recreated) > 20*time.Second {
			t.Fatalf("app_1 not healthy: %+v", ctr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range []string{"db", "app_2"} {
		ctr, err := c.ContainerOf(ctx, p.Name, s)
		if err != nil || ctr.ID != ids[s] {
			t.Errorf("%s touched by recreating app_1: %v %s != %s", s, err, ctr.ID, ids[s])
		}
	}
	ctr, _ := c.ContainerOf(ctx, p.Name, "app_1")
	if ctr.ID == ids["app_1"] || ctr.Image != "zdplay-test/tiny:2" {
		t.Errorf("app_1 not recreated: %+v", ctr)
	}
	if res, err := c.Recreate(ctx, p2, []string{"app_1"}, false); err != nil || res.Changed {
		t.Errorf("recreate again: %+v %v", res, err)
	}
	if res, err := c.Up(ctx, p2); err != nil || res.Changed {
		t.Errorf("up after recreate: %+v %v", res, err)
	}

	rc, stdout, stderr, err := c.Exec(ctx, p.Name, "app_1", []string{"/tiny", "-check"})
	if err != nil || rc != 0 || stdout != "check: ok\n" || stderr != "" {
		t.Errorf("exec: rc=%d out=%q err=%q %v", rc, stdout, stderr, err)
	}
	// a second server cannot bind :3000: rc 1 and the reason on stdout
	rc, stdout, _, err = c.Exec(ctx, p.Name, "app_1", []string{"/tiny"})
	if err != nil || rc != 1 || !strings.Contains(stdout, "address already in use") {
		t.Errorf("exec failing: rc=%d out=%q %v", rc, stdout, err)
	}
	if _, _, _, err := c.Exec(ctx, p.Name, "app_1", []string{"/no/such/binary"}); err == nil {
		// the engine reports a missing executable as rc 126/127 on some versions
		rc, _, _, _ := c.Exec(ctx, p.Name, "app_1", []string{"/no/such/binary"})
		if rc == 0 {
			t.Error("exec of a missing binary succeeded")
		}
	}
	if _, _, _, err := c.Exec(ctx, p.Name, "nope", []string{"true"}); !errors.Is(err, ErrNoContainer) {
		t.Errorf("exec in a service without container: %v", err)
	}

	// force recreates even when up to date
	if res, err := c.Recreate(ctx, p2, []string{"app_2"}, true); err != nil || !res.Changed || res.Reasons["app_2"] != "forced" {
		t.Errorf("forced recreate: %+v %v", res, err)
	}
}

func TestOutdatedWhenImageRebuilt(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	tag := fmt.Sprintf("zdplay-test/tiny:moving-%d", os.Getpid())
	if out, err := exec.Command("docker", "tag", "zdplay-test/tiny:1", tag).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", tag).Run() })
	p, _ := newProject(t, c, "services:\n  app:\n    image: "+tag+"\n")
	if _, err := c.Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	if out, why, err := c.Outdated(ctx, p, "app"); err != nil || out {
		t.Fatalf("%v %s %v", out, why, err)
	}
	if out, err := exec.Command("docker", "tag", "zdplay-test/tiny:2", tag).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out, why, err := c.Outdated(ctx, p, "app")
	if err != nil || !out || !strings.Contains(why, "rebuilt") {
		t.Fatalf("after retag: %v %q %v", out, why, err)
	}
	res, err := c.Up(ctx, p)
	if err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if out, why, err := c.Outdated(ctx, p, "app"); err != nil || out {
		t.Fatalf("after up: %v %s %v", out, why, err)
	}
}

func TestMissingImagesAndStoppedContainer(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	p, _ := newProject(t, c, `
services:
  app:
    image: zdplay-test/tiny:1
  gone:
    image: zdplay-test/absent:0
    pull_policy: always
`)
	missing, err := c.MissingImages(ctx, p)
	if err != nil || len(missing) != 1 || missing[0] != "zdplay-test/absent:0" {
		t.Fatalf("%v %v", missing, err)
	}
	_, err = c.Up(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "zdplay-test/absent:0 (service gone)") {
		t.Fatalf("up with a missing image: %v", err)
	}
	if _, err := c.ContainerOf(ctx, p.Name, "app"); !errors.Is(err, ErrNoContainer) {
		t.Fatalf("something was created before the image check: %v", err)
	}
	if _, err := c.Up(ctx, p, "app"); err != nil {
		t.Fatal(err)
	}
	ctr, err := c.ContainerOf(ctx, p.Name, "app")
	if err != nil {
		t.Fatal(err)
	}
	if ctr.Health != "" {
		t.Errorf("health %q without a healthcheck", ctr.Health)
	}
	if out, err := exec.Command("docker", "stop", "-t", "5", ctr.ID).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out, why, err := c.Outdated(ctx, p, "app")
	if err != nil || !out || !strings.Contains(why, "exited") {
		t.Fatalf("stopped: %v %q %v", out, why, err)
	}
	ctr, _ = c.ContainerOf(ctx, p.Name, "app")
	if ctr.Running || ctr.State != "exited" || ctr.ExitCode != 0 {
		t.Errorf("%+v", ctr)
	}
	if res, err := c.Up(ctx, p, "app"); err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if ctr, _ := c.ContainerOf(ctx, p.Name, "app"); !ctr.Running {
		t.Errorf("not running after up: %+v", ctr)
	}
}

// BenchmarkConnect measures Connect + Close: the docker CLI setup (config
// file, context store), the moby client, the ping that negotiates the API
// version, and the Compose service.
func BenchmarkConnect(b *testing.B) {
	if engineErr != "" {
		b.Skip(engineErr)
	}
	for b.Loop() {
		c, err := Connect(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkOutdated measures one Outdated on an up-to-date service.
func BenchmarkOutdated(b *testing.B) {
	if engineErr != "" {
		b.Skip(engineErr)
	}
	ctx := context.Background()
	c, err := Connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	name := dockertest.ProjectName()
	file := filepath.Join(b.TempDir(), "compose.yaml")
	os.WriteFile(file, []byte("services:\n  app:\n    image: zdplay-test/tiny:1\n"), 0o644)
	defer c.Down(ctx, name, true)
	p, err := LoadProject(ctx, file, name)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Up(ctx, p); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if out, why, err := c.Outdated(ctx, p, "app"); err != nil || out {
			b.Fatal(out, why, err)
		}
	}
}

func TestLoadProjectContentActsAsTheFile(t *testing.T) {
	dir := t.TempDir()
	dockertest.WriteFile(t, dir, ".env", "TAG=2\n")
	file := filepath.Join(dir, "compose.yaml") // never written
	content := []byte("services:\n  app:\n    image: zdplay-test/tiny:${TAG}\n    volumes: [./conf:/etc/conf:ro]\n")
	p, err := LoadProjectContent(context.Background(), file, content, "zdplaytest-staged")
	if err != nil {
		t.Fatal(err)
	}
	app := p.Services["app"]
	if app.Image != "zdplay-test/tiny:2" {
		t.Errorf("image %q: .env beside the file not read", app.Image)
	}
	if len(app.Volumes) != 1 || app.Volumes[0].Source != filepath.Join(dir, "conf") {
		t.Errorf("volume %+v: not resolved against the file's directory", app.Volumes)
	}
	if len(p.ComposeFiles) != 1 || p.ComposeFiles[0] != file || app.CustomLabels[api.ConfigFilesLabel] != file {
		t.Errorf("files %v, label %q", p.ComposeFiles, app.CustomLabels[api.ConfigFilesLabel])
	}
	onDisk := dockertest.WriteFile(t, dir, "compose.yaml", string(content))
	p2, err := LoadProject(context.Background(), onDisk, "zdplaytest-staged")
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := ServiceHash(app)
	h2, _ := ServiceHash(p2.Services["app"])
	if h1 != h2 {
		t.Error("staged and on-disk loads hash differently")
	}
	_, err = LoadProjectContent(context.Background(), file, []byte("services: [\n"), "zdplaytest-staged")
	if err == nil || !strings.Contains(err.Error(), file) || strings.Contains(err.Error(), os.TempDir()+"/zdplay-compose-") {
		t.Errorf("error must name the file, not the staging copy: %v", err)
	}
}
