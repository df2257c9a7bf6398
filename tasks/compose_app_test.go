package tasks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// env feeds the file's ${NAME} interpolation, over the environment; without
// it the file's own default holds. No Docker needed: only the file is read.
func TestComposeAppEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "compose.yaml")
	src := "services:\n  app:\n    image: ${IMAGE:-demo/app}:0.0.1\n    expose: [\"3000\"]\n    mem_limit: ${APP_MEMORY:-128m}\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IMAGE", "from/environment")
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "from/environment"},
		{map[string]string{"IMAGE": "other/app"}, "other/app"},
	} {
		res, err := (&ComposeApp{Compose: file, Service: "app", Env: c.env}).Apply(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Outputs["image"]; got != c.want || res.Outputs["version"] != "0.0.1" || res.Outputs["app_port"] != 3000 {
			t.Errorf("env %v: outputs %v, want image %s:0.0.1 on :3000", c.env, res.Outputs, c.want)
		}
	}
	// A value that breaks the file fails as the file would.
	if _, err := (&ComposeApp{Compose: file, Service: "app", Env: map[string]string{"APP_MEMORY": "1m\n  bogus: [unclosed"}}).Apply(context.Background(), nil); err == nil {
		t.Fatal("a mem_limit that is not a size loaded")
	}
}

// services names the replicas the count makes: SERVICE_1..SERVICE_N, what
// compose_render, compose_outdated and the rollout are given.
func TestComposeAppServices(t *testing.T) {
	file := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  web:\n    image: shop:1\n    expose: [\"8080\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for replicas, want := range map[int][]string{0: {"web_1", "web_2"}, 3: {"web_1", "web_2", "web_3"}} {
		res, err := (&ComposeApp{Compose: file, Service: "web", Replicas: replicas}).Apply(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := res.Outputs["services"].([]string); !slices.Equal(got, want) {
			t.Errorf("replicas = %d: services %v, want %v", replicas, res.Outputs["services"], want)
		}
	}
}
