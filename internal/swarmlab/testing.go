package swarmlab

import (
	"context"
	"testing"
	"time"
)

// Start brings a lab up for t and tears it down when t ends, failed or not
// (t.Cleanup). It skips t, saying why, only where the lab cannot run (no
// root, no network namespaces); any other failure fails t.
func Start(t testing.TB, o Options) *Lab {
	t.Helper()
	if why := CanRun(); why != "" {
		t.Skip("Swarm lab not started: " + why)
	}
	if o.Log == nil {
		o.Log = t.Logf
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lab, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("Swarm lab: %v", err)
	}
	t.Logf("Swarm lab of %d nodes up in %s (manager %s, dir %s)", len(lab.Nodes), time.Since(start).Round(10*time.Millisecond), lab.Manager().Addr, lab.Dir)
	t.Cleanup(func() {
		start := time.Now()
		if err := lab.Down(context.Background()); err != nil {
			t.Errorf("Swarm lab teardown: %v", err)
		}
		t.Logf("Swarm lab torn down in %s", time.Since(start).Round(10*time.Millisecond))
	})
	return lab
}
