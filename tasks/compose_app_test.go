package tasks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// update_config: each key set wins, else the file's deploy.update_config,
// else the default; a key of another name, or a value the rollout would
// refuse, is refused.
func TestComposeAppUpdateConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "compose.yaml")
	src := "services:\n  web:\n    image: shop:1\n    expose: [\"8080\"]\n    deploy:\n      update_config:\n        parallelism: 2\n        order: start-first\n        delay: 1s\n        max_failure_ratio: 0.5\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set := map[string]string{"parallelism": "0", "order": "stop-first", "monitor": "", "max_failure_ratio": "-1", "failure_action": "pause"}
	res, err := (&ComposeApp{Compose: file, Service: "web", UpdateConfig: set}).Apply(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"parallelism": 2, "order": "stop-first", "delay": "1s", "monitor": "0s", "failure_action": "pause", "max_failure_ratio": 0.5}
	if got := res.Outputs["update_config"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("update_config = %v, want %v", got, want)
	}
	for set, want := range map[string]string{
		"ordr=x":                `update_config has no key "ordr"; its keys are parallelism, order`,
		"order=sideways":        `order is "sideways": it must be "stop-first" or "start-first"`,
		"failure_action=undo":   `failure_action is "undo"`,
		"max_failure_ratio=1.5": `max_failure_ratio is 1.5: it must be from 0 to 1`,
		"parallelism=two":       `update_config.parallelism: "two" is not a whole number`,
	} {
		k, v, _ := strings.Cut(set, "=")
		// Validate is what runs before the run: the refusal is exit 2.
		err := (&ComposeApp{Compose: file, Service: "web", UpdateConfig: map[string]string{k: v}}).Validate(nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", set, err, want)
		}
	}
}
