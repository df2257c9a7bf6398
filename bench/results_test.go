package main

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// A rollout's recap entry spans the tasks it ran, listed just before it:
// they count once, in their own steps, and a batch's parallel health waits
// overlap in the engine's share.
func TestZdplayStepsRollout(t *testing.T) {
	type task struct {
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		Item       string `json:"item,omitempty"`
		Pos        string `json:"pos"`
		Status     string `json:"status"`
		DurationNs int64  `json:"duration_ns"`
		Msg        string `json:"msg,omitempty"`
	}
	s := func(f float64) int64 { return int64(f * 1e9) }
	const deploy, rollout = "roles/deploy.hcl:3,3-20", "roles/rollout.hcl:"
	recap := struct {
		Tasks []task `json:"tasks"`
	}{[]task{
		{"lock", "project", "", deploy, "ok", s(0.1), ""},
		{"compose_replicas", "replicas", "", rollout + "90,5-40", "ok", s(0.2), ""},
		{"compose_up", "proxy", "a, b", rollout + "130,5-30", "ok", s(0.1), ""},
		{"proxy", "drain", "a, b", rollout + "140,5-30", "changed", s(0.5), "validated, reloaded nginx with default.conf (old workers gone after 200ms)"},
		{"compose_recreate", "recreate", "a, b", rollout + "150,5-30", "changed", s(1.0), ""},
		{"wait_healthy", "healthy", "a", rollout + "160,7-30", "ok", s(0.6), ""},
		{"wait_healthy", "healthy", "b", rollout + "160,7-30", "ok", s(0.9), ""},
		{"rollout", "replicas", "", rollout + "70,1-20", "changed", s(3.5), ""},
		{"template", "record release", "", "roles/deploy.hcl:40,3-30", "changed", s(0.1), ""},
	}}
	b, err := json.Marshal(recap)
	if err != nil {
		t.Fatal(err)
	}
	steps, tasks := zdplaySteps(cmdResult{stdout: string(b), wall: 4 * time.Second})
	want := map[string]float64{
		"other_tasks":  0.1 + 0.2 + 0.1 + 0.1,
		"reload":       0.5,
		"reload_wait":  0.2,
		"recreate":     1.0,
		"wait_healthy": 0.6 + 0.9,                           // summed over the replicas
		"engine":       3.5 - (0.2 + 0.1 + 0.5 + 1.0 + 0.9), // the waits overlap: the longer one
		"startup":      4 - (0.1 + 3.5 + 0.1),
	}
	for k, v := range want {
		if math.Abs(steps[k]-v) > 1e-6 {
			t.Errorf("%s = %.3f, want %.3f", k, steps[k], v)
		}
	}
	if _, ok := steps["runtime_api"]; ok {
		t.Errorf("runtime_api = %v: nginx's drain is a reload, not HAProxy's runtime API", steps["runtime_api"])
	}
	if len(tasks) != len(recap.Tasks) {
		t.Errorf("%d tasks listed, want %d", len(tasks), len(recap.Tasks))
	}
}
