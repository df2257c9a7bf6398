package tasks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zdplay/zdplay/internal/errtest"
)

func TestWaitHealthyTask(t *testing.T) {
	env, project := dkEnv(t, `
services:
  good:
    image: zdplay-test/tiny:1
    healthcheck: &check {test: ["CMD", "/tiny", "-check"], interval: 250ms, timeout: 2s, retries: 2}
  plain:
    image: zdplay-test/tiny:2
  failing:
    image: zdplay-test/tiny:1
    environment: {TINY_PING_STATUS: "503"}
    healthcheck: *check
  nohealth500:
    image: zdplay-test/tiny:1
    environment: {TINY_PING_STATUS: "500"}
  crashing:
    image: zdplay-test/tiny:1
    environment: {TINY_EXIT: "3"}
`)
	var progress []string
	env.Progress = func(format string, args ...any) {
		if len(progress) < 1000 {
			progress = append(progress, format)
		}
	}
	// wait bounds the task as the runner does: by its timeout, as ctx's deadline.
	wait := func(service, timeout string) (Result, time.Duration, error) {
		d, err := time.ParseDuration(timeout)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		env.Timeout = d
		defer func() { env.Timeout = 0 }()
		start := time.Now()
		res, err := (&WaitHealthy{File: "compose.yaml", Project: project, Service: service, Interval: "50ms"}).Apply(ctx, env)
		return res, time.Since(start), err
	}

	// Before up: no container, a clear timeout.
	_, _, err := wait("good", "300ms")
	errtest.Says(t, err, "good not healthy after 300ms", "no container for good")

	res := dkRun(t, env, &WaitHealthy{File: "compose.yaml", Project: project, Service: "good"}, false)
	if res.Changed || !strings.Contains(res.Msg, "would wait for good") {
		t.Fatalf("check: %+v", res)
	}

	up := time.Now()
	dkRun(t, env, &ComposeUp{File: "compose.yaml", Project: project}, true)
	t.Logf("up of 5 services: %s", time.Since(up).Round(time.Millisecond))

	res, took, err := wait("good", "20s")
	if err != nil || res.Changed {
		t.Fatalf("good: %+v %v", res, err)
	}
	t.Logf("good: %s, %s", res.Msg, took.Round(time.Millisecond))
	if len(progress) == 0 || progress[0] != "waiting for %s: %s" {
		t.Errorf("progress %q", progress)
	}

	res, took, err = wait("plain", "10s") // no healthcheck: HTTP only
	if err != nil {
		t.Fatalf("plain: %v", err)
	}
	t.Logf("plain (no healthcheck): %s", took.Round(time.Millisecond))

	_, took, err = wait("failing", "2s")
	t.Logf("failing: %v", err)
	errtest.Says(t, err, "failing not healthy after 2s", "docker health", "/ping answered 503", "docker logs")
	if took > 3*time.Second {
		t.Errorf("timeout of 2s took %s", took)
	}

	_, _, err = wait("nohealth500", "3s")
	errtest.Says(t, err, "nohealth500 not healthy after 3s", "500 Internal Server Error")

	_, took, err = wait("crashing", "20s")
	t.Logf("crashing: %v", err)
	errtest.Says(t, err, "exited with code 3", "exiting with 3")
	if took > 5*time.Second {
		t.Errorf("an exited container took %s to fail", took)
	}
}

// Issue 15, bug 5: "-e monitor=0ms" passed the strategy check and was then
// refused by wait_healthy after the drain and recreate.
func TestWaitHealthyMonitorZeroInAnySpelling(t *testing.T) {
	for _, m := range []string{"", "0", "0s", "0ms", "0m", "0h0m0s"} {
		s, err := (&WaitHealthy{Service: "app_1", Monitor: m}).spec()
		if err != nil || s.monitor != 0 {
			t.Errorf("monitor = %q: %v, %s", m, err, s.monitor)
		}
	}
	if s, err := (&WaitHealthy{Service: "app_1", Monitor: "1.5s"}).spec(); err != nil || s.monitor != 1500*time.Millisecond {
		t.Errorf("monitor 1.5s: %v, %s", err, s.monitor)
	}
	for _, m := range []string{"-1s", "soon"} {
		if _, err := (&WaitHealthy{Service: "app_1", Monitor: m}).spec(); err == nil {
			t.Errorf("monitor = %q accepted", m)
		}
	}
}
