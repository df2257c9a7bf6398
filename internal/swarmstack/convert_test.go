package swarmstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"

	"github.com/zdplay/zdplay/internal/docker"
)

const stackFile = `
services:
  proxy:
    image: nginx:local
    ports:
      - {target: 80, published: 8000, mode: host}
    configs:
      - {source: conf, target: /etc/nginx/conf.d/default.conf}
    networks: [app]
  app:
    image: app:VERSION
    environment: {REDIS_ADDR: "db:6379"}
    networks: [app]
    stop_grace_period: 15s
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
      update_config: {parallelism: 2, delay: 1s, order: start-first, failure_action: rollback, monitor: 500ms, max_failure_ratio: 0.5}
  db:
    image: redis:local
    volumes: [db-data:/data]
    networks: [app]
    deploy:
      placement: {constraints: ["node.role == manager"]}
networks:
  app: {driver: overlay}
volumes:
  db-data: {}
configs:
  conf: {file: ./conf}
`

func load(t *testing.T, version, conf string) *Stack {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "stack.yml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(stackFile, "VERSION", version)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := docker.LoadProject(context.Background(), file, "st")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Convert(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func service(t *testing.T, st *Stack, key string) Service {
	t.Helper()
	for _, s := range st.Services {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no service %s", key)
	return Service{}
}

func TestConvert(t *testing.T) {
	st := load(t, "0.0.1", "server {}")
	if len(st.Networks) != 1 || st.Networks[0].Name != "st_app" || st.Networks[0].Labels[LabelNamespace] != "st" {
		t.Fatalf("networks: %+v", st.Networks)
	}
	if len(st.Configs) != 1 || !strings.HasPrefix(st.Configs[0].Name, "st_conf-") {
		t.Fatalf("configs: %+v", st.Configs)
	}

	app := service(t, st, "app").Spec
	if app.Name != "st_app" || app.Labels[LabelNamespace] != "st" || *app.Mode.Replicated.Replicas != 3 {
		t.Fatalf("app: %+v", app.Annotations)
	}
	if app.EndpointSpec.Mode != swarm.ResolutionModeDNSRR {
		t.Fatalf("app endpoint mode %q", app.EndpointSpec.Mode)
	}
	want := swarm.UpdateConfig{Parallelism: 2, Delay: time.Second, FailureAction: "rollback", Monitor: 500 * time.Millisecond, MaxFailureRatio: 0.5, Order: "start-first"}
	if *app.UpdateConfig != want {
		t.Fatalf("update_config %+v, want %+v", *app.UpdateConfig, want)
	}
	cs := app.TaskTemplate.ContainerSpec
	if *cs.StopGracePeriod != 15*time.Second || cs.Env[0] != "REDIS_ADDR=db:6379" {
		t.Fatalf("container spec %+v", cs)
	}
	if n := app.TaskTemplate.Networks; len(n) != 1 || n[0].Target != "st_app" || n[0].Aliases[0] != "app" {
		t.Fatalf("networks %+v", n)
	}

	proxy := service(t, st, "proxy").Spec
	if p := proxy.EndpointSpec.Ports; len(p) != 1 || p[0].PublishMode != swarm.PortConfigPublishModeHost || p[0].PublishedPort != 8000 || p[0].TargetPort != 80 {
		t.Fatalf("proxy ports %+v", p)
	}
	if c := proxy.TaskTemplate.ContainerSpec.Configs; len(c) != 1 || c[0].ConfigName != st.Configs[0].Name || c[0].File.Name != "/etc/nginx/conf.d/default.conf" {
		t.Fatalf("proxy configs %+v", c)
	}

	db := service(t, st, "db").Spec
	if c := db.TaskTemplate.Placement.Constraints; len(c) != 1 || c[0] != "node.role == manager" {
		t.Fatalf("db placement %+v", db.TaskTemplate.Placement)
	}
	if m := db.TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Type != mount.TypeVolume || m[0].Source != "st_db-data" || m[0].VolumeOptions.Labels[LabelNamespace] != "st" {
		t.Fatalf("db mounts %+v", m)
	}
}

// The spec hash leaves the image out (compared on its own) and follows
// everything else; a changed config file is a new config name.
func TestConvertHash(t *testing.T) {
	a, b := load(t, "0.0.1", "server {}"), load(t, "0.0.2", "server {}")
	if service(t, a, "app").Hash != service(t, b, "app").Hash {
		t.Fatal("the hash changed with the image alone")
	}
	c := load(t, "0.0.1", "server { listen 81; }")
	if a.Configs[0].Name == c.Configs[0].Name {
		t.Fatal("a changed config file kept its config name")
	}
	if service(t, a, "proxy").Hash == service(t, c, "proxy").Hash {
		t.Fatal("the proxy's hash did not follow its config")
	}
}
