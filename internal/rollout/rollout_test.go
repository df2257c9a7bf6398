package rollout

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// obs builds an observation from "app_1=ok app_2=old app_3=dead app_4=sick x=orphan".
func obs(spec string) Observation {
	o := Observation{}
	for i, f := range strings.Fields(spec) {
		name, state, _ := strings.Cut(f, "=")
		r := Replica{Service: name, Exists: true, Running: true, Current: true, Serving: true, Address: fmt.Sprintf("10.0.0.%d", i+1)}
		switch state {
		case "old":
			r.Current = false
		case "dead":
			r = Replica{Service: name, Exists: true}
		case "missing":
			r = Replica{Service: name}
		case "sick":
			r.Serving, r.Unhealthy = false, true
		case "booting":
			r.Serving = false
		case "orphan":
			r.Orphan = true
		}
		o[name] = r
	}
	return o
}

func strategy(parallelism int, action Action, ratio float64) Strategy {
	return Strategy{Parallelism: parallelism, Order: StopFirst, FailureAction: action, MaxFailureRatio: ratio}
}

// situation is a case of the plan tests: a plan of replicas at a
// parallelism (stop-first, rollback) and what is observed of them (obs).
type situation struct {
	name        string
	replicas    []string
	parallelism int
	obs         string
}

func (s situation) plan() *Plan { return NewPlan(strategy(s.parallelism, Rollback, 0), s.replicas) }

func TestNextBatches(t *testing.T) {
	for _, tc := range []struct {
		situation
		want []string // batches in order, each "a+b", "heal:" first when healing
	}{
		{situation{"one at a time, in order", []string{"app_1", "app_2", "app_3"}, 1, "app_1=old app_2=old app_3=old"}, []string{"app_1", "app_2", "app_3"}},
		{situation{"batches of two", []string{"app_1", "app_2", "app_3"}, 2, "app_1=old app_2=old app_3=old"}, []string{"app_1+app_2", "app_3"}},
		{situation{"current replicas untouched", []string{"app_1", "app_2", "app_3"}, 1, "app_1=ok app_2=old app_3=ok"}, []string{"app_2"}},
		{situation{"converged: nothing", []string{"app_1", "app_2"}, 1, "app_1=ok app_2=ok"}, nil},
		{situation{"dead and missing replicas healed first, together", []string{"app_1", "app_2", "app_3", "app_4"}, 1, "app_1=old app_2=dead app_3=old app_4=missing"}, []string{"heal:app_2+app_4", "app_1", "app_3"}},
		{situation{"scale up: new replicas first", []string{"app_1", "app_2", "app_3", "app_4"}, 2, "app_1=old app_2=old app_3=missing app_4=missing"}, []string{"heal:app_3+app_4", "app_1+app_2"}},
		{situation{"unhealthy replicas are recreated first, booting ones waited for", []string{"app_1", "app_2", "app_3"}, 1, "app_1=sick app_2=booting app_3=old"}, []string{"force:app_1", "heal:app_2", "app_3"}},
		{situation{"orphans are not replaced", []string{"app_1"}, 1, "app_1=old app_2=orphan"}, []string{"app_1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, o := tc.plan(), obs(tc.obs)
			var got []string
			for b := p.Next(o); len(b.Services) > 0; b = p.Next(o) {
				s := strings.Join(b.Services, "+")
				switch {
				case b.Force:
					s = "force:" + s
				case b.Heal:
					s = "heal:" + s
				}
				got = append(got, s)
				p.Done(b) // the observation does not change: as in --check
				if len(got) > 10 {
					t.Fatal("no end")
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("batches %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFailureCountsReplicasNotBatches(t *testing.T) {
	// Bug 6 of issue 15: 3 replicas, parallelism 2, ratio 0.5: a failed
	// batch of two is 2/3 > 0.5, not 1 batch of 2.
	p := NewPlan(strategy(2, Rollback, 0.5), []string{"app_1", "app_2", "app_3"})
	if p.Fail(Batch{Services: []string{"app_1", "app_2"}}) {
		t.Error("two failed replicas of three tolerated at max_failure_ratio 0.5")
	}
	for _, tc := range []struct {
		replicas int
		ratio    float64
		action   Action
		fails    []int // batch sizes failing in turn
		want     []bool
	}{
		{4, 0.25, Rollback, []int{1, 1}, []bool{true, false}},
		{4, 0.5, Rollback, []int{1, 1, 1}, []bool{true, true, false}},
		{3, 0, Rollback, []int{1}, []bool{false}},
		{3, 0, Pause, []int{1}, []bool{false}},
		{3, 0, Continue, []int{2, 1}, []bool{true, true}},
		{1, 1, Rollback, []int{1}, []bool{true}},
		{10, 0.3, Rollback, []int{3, 1}, []bool{true, false}},
	} {
		var names []string
		for i := range tc.replicas {
			names = append(names, fmt.Sprintf("app_%d", i+1))
		}
		p := NewPlan(strategy(1, tc.action, tc.ratio), names)
		for i, n := range tc.fails {
			if got := p.Fail(Batch{Services: names[:n]}); got != tc.want[i] {
				t.Errorf("%d replicas, ratio %g, %s: failure %d (batch of %d) tolerated=%v, want %v", tc.replicas, tc.ratio, tc.action, i+1, n, got, tc.want[i])
			}
		}
	}
}

func TestCapacity(t *testing.T) {
	for _, tc := range []struct {
		situation
		batch []string
		ok    bool
	}{
		{situation{"two healthy, drain one", []string{"app_1", "app_2"}, 1, "app_1=old app_2=old"}, []string{"app_1"}, true},
		{situation{"one replica, stop-first", []string{"app_1"}, 1, "app_1=old"}, []string{"app_1"}, true},
		{situation{"the other died meanwhile", []string{"app_1", "app_2"}, 1, "app_1=old app_2=dead"}, []string{"app_1"}, false},
		{situation{"three, one sick, drain one", []string{"app_1", "app_2", "app_3"}, 1, "app_1=old app_2=sick app_3=ok"}, []string{"app_1"}, false},
		{situation{"parallelism two of four, one dead", []string{"app_1", "app_2", "app_3", "app_4"}, 2, "app_1=old app_2=old app_3=dead app_4=ok"}, []string{"app_1", "app_2"}, false},
		{situation{"a surge replica counts", []string{"app_1"}, 1, "app_1=old surge_1=ok"}, []string{"app_1"}, true},
		{situation{"orphans serving count", []string{"app_1", "app_2"}, 1, "app_1=old app_2=dead app_3=orphan"}, []string{"app_1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.plan().CheckCapacity(obs(tc.obs), Batch{Services: tc.batch})
			if (err == nil) != tc.ok {
				t.Errorf("CheckCapacity = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	p := NewPlan(strategy(1, Rollback, 0), []string{"app_1", "app_2"})
	if err := p.CheckCapacity(obs("app_1=dead app_2=dead"), Batch{Services: []string{"app_1", "app_2"}, Heal: true}); err != nil {
		t.Errorf("a heal batch drains nothing that serves: %v", err)
	}
}

func TestUpstream(t *testing.T) {
	o := obs("app_2=ok app_1=old app_3=dead app_4=sick surge_1=ok")
	got := o.Upstream([]string{"app_1"})
	want := []Server{
		{Name: "app_1", Address: "10.0.0.2", Down: true},
		{Name: "app_2", Address: "10.0.0.1"},
		{Name: "app_4", Address: "10.0.0.4", Down: true},
		{Name: "surge_1", Address: "10.0.0.5"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Upstream = %+v\nwant %+v", got, want)
	}
}

func TestSurgeAndRestore(t *testing.T) {
	s := strategy(3, Rollback, 0)
	if got := NewPlan(s, []string{"app_1", "app_2"}).Surge(); got != nil {
		t.Errorf("stop-first surge %q", got)
	}
	s.Order = StartFirst
	if got := NewPlan(s, []string{"app_1", "app_2"}).Surge(); !slices.Equal(got, []string{"surge_1", "surge_2"}) {
		t.Errorf("start-first surge of 2 replicas at parallelism 3: %q", got)
	}
	r := NewPlan(s, []string{"app_1", "app_2"}).Restore()
	if r.Strategy.Parallelism != 1 {
		t.Errorf("a restore goes one replica at a time, not %d", r.Strategy.Parallelism)
	}
	if b := r.Next(obs("app_1=old app_2=old")); !slices.Equal(b.Services, []string{"app_1"}) {
		t.Errorf("restore batch %q", b.Services)
	}
}

func TestValidate(t *testing.T) {
	ok := Strategy{Parallelism: 1, Order: StopFirst, FailureAction: Rollback}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Parallelism, bad.Order, bad.MaxFailureRatio = 0, "sideways", 2
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "parallelism is 0") || !strings.Contains(err.Error(), `order is "sideways"`) || !strings.Contains(err.Error(), "max_failure_ratio is 2") {
		t.Errorf("Validate = %v", err)
	}
}
