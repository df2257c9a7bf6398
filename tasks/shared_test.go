package tasks

import (
	"slices"
	"testing"
)

type closeRecorder struct {
	name   string
	closed *[]string
}

func (c *closeRecorder) Close() error { *c.closed = append(*c.closed, c.name); return nil }

type keyA struct{}
type keyB struct{}

// A kind's run-scoped state is made once per run, apart from another
// run's, and closed when the run's Shared is, the last made first.
func TestRunScopedStatePerRun(t *testing.T) {
	var closed []string
	made := 0
	mk := func(name string) func() RunScoped {
		return func() RunScoped { made++; return &closeRecorder{name: name, closed: &closed} }
	}
	run1, run2 := &Shared{}, &Shared{}
	a := run1.State(keyA{}, mk("a"))
	if again := run1.State(keyA{}, mk("a again")); again != a || made != 1 {
		t.Fatalf("State made a second value for the same key in one run (made %d)", made)
	}
	run1.State(keyB{}, mk("b"))
	if other := run2.State(keyA{}, mk("a of run 2")); other == a {
		t.Fatal("two runs share a state")
	}
	if err := run1.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(closed, []string{"b", "a"}) {
		t.Fatalf("closed %v, want [b a]: run 1's states, the last made first, not run 2's", closed)
	}
}
