package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zdplay/zdplay/internal/rollout"
	"github.com/zdplay/zdplay/tasks"
)

// rolloutValueAttrs are what the phases of a rollout see as rollout.*.
var rolloutValueAttrs = []string{"release", "services", "batch", "heal", "force", "monitor", "upstream", "retiring"}

// rolloutSpec is a rollout block's attributes, evaluated.
type rolloutSpec struct {
	replicas          []string
	release, fallback string
	strategy          rollout.Strategy
}

// evalRollout evaluates and checks a rollout's attributes.
func (ex *executor) evalRollout(g *Group, f frame) (rolloutSpec, error) {
	ctx := ex.evalContext(f)
	s := rolloutSpec{strategy: rollout.Strategy{Parallelism: 1, Order: rollout.StopFirst, FailureAction: rollout.Rollback}}
	a, err := withUpdateConfig(g.Phased.Attrs, ctx)
	if err != nil {
		return s, err
	}
	decode := func(name string, into any) error {
		if a[name] == nil {
			return nil
		}
		if diags := gohcl.DecodeExpression(a[name], ctx, into); diags.HasErrors() {
			return diagError(diags)
		}
		return nil
	}
	var order, action string
	for _, d := range []struct {
		name string
		into any
	}{
		{"replicas", &s.replicas}, {"release", &s.release}, {"fallback", &s.fallback},
		{"parallelism", &s.strategy.Parallelism}, {"order", &order}, {"failure_action", &action},
		{"max_failure_ratio", &s.strategy.MaxFailureRatio},
	} {
		if err := decode(d.name, d.into); err != nil {
			return s, err
		}
	}
	if order != "" {
		s.strategy.Order = rollout.Order(order)
	}
	if action != "" {
		s.strategy.FailureAction = rollout.Action(action)
	}
	if s.strategy.Delay, err = durationAttr(a["delay"], ctx, 0); err != nil {
		return s, err
	}
	if s.strategy.Monitor, err = durationAttr(a["monitor"], ctx, 0); err != nil {
		return s, err
	}
	if s.fallback == "" {
		s.fallback = s.release
	}
	if err := s.strategy.Validate(); err != nil {
		return s, diagError(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid rollout strategy", Detail: err.Error() + ".", Subject: g.DeclRange.Ptr()}})
	}
	if len(s.replicas) == 0 {
		return s, attrError(a["replicas"], "replicas is empty: a rollout needs at least one replica service")
	}
	return s, nil
}

// withUpdateConfig returns attrs with each key of its update_config object
// as the attribute of that name, where the block does not set it itself.
func withUpdateConfig(attrs map[string]hcl.Expression, ctx *hcl.EvalContext) (map[string]hcl.Expression, error) {
	expr := attrs[attrUpdateConfig]
	if expr == nil {
		return attrs, nil
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	if v.IsNull() {
		return attrs, nil
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		return nil, attrError(expr, "update_config is an object of "+strings.Join(strategyAttrs, ", ")+", as in Compose's deploy.update_config")
	}
	out := maps.Clone(attrs)
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		name := k.AsString()
		if !slices.Contains(strategyAttrs, name) {
			return nil, attrError(expr, fmt.Sprintf("update_config has no key %q; its keys are %s", name, strings.Join(strategyAttrs, ", ")))
		}
		if out[name] == nil {
			out[name] = hcl.StaticExpr(val, expr.Range())
		}
	}
	return out, nil
}

// rolloutRun is one execution of a rollout block.
type rolloutRun struct {
	constructRun
	spec    rolloutSpec
	plan    *rollout.Plan
	release string   // what the compose file is rendered at now
	surge   []string // start-first's surge replicas while they are wanted
	// What it did, for its recap line.
	replaced, healed, retired []string
}

// runRollout rolls the replicas to the release: it observes them, asks the
// plan which batch is next (dead or missing replicas first, then the
// outdated ones, parallelism at a time, with capacity checked before every
// drain), runs the drain, replace and undrain phases for it, and on a
// failure applies failure_action. It ends with the replicas the file no
// longer lists retired and every serving replica in the proxy.
func (ex *executor) runRollout(ctx context.Context, g *Group, f frame) error {
	r := &rolloutRun{constructRun: newConstructRun(ex, g, f)}
	spec, err := ex.evalRollout(g, f)
	if err != nil {
		return r.fail(err.Error())
	}
	r.spec, r.release = spec, spec.release
	r.plan = rollout.NewPlan(spec.strategy, spec.replicas)
	obs, err := r.observe(ctx)
	if err != nil {
		return err
	}
	if surge := r.plan.Surge(); len(surge) > 0 && r.plan.Pending(obs) {
		if obs, err = r.startSurge(ctx, surge); err != nil {
			return err
		}
	}
	batches := 0
	for b := r.plan.Next(obs); len(b.Services) > 0; b = r.plan.Next(obs) {
		// In --check nothing is replaced, so the observation never shows a
		// healed replica serving: capacity is judged by real runs only.
		if err := r.plan.CheckCapacity(obs, b); err != nil && !ex.opts.Check {
			return r.finishFailed(ctx, err.Error())
		}
		if !b.Heal {
			if batches > 0 && spec.strategy.Delay > 0 {
				ex.printer.Note(fmt.Sprintf("rollout %q: waiting %s before the next batch", g.Name, spec.strategy.Delay))
				if err := sleepCtx(ctx, spec.strategy.Delay); err != nil {
					return ErrInterrupted
				}
			}
			batches++
		}
		var failure error
		obs, failure = r.replace(ctx, b, obs, spec.strategy.Monitor)
		r.plan.Done(b)
		switch {
		case failure == nil:
			r.record(b)
			continue
		case !releaseFailed(failure):
			return failure
		}
		if obs, err = r.failed(ctx, b, failure); err != nil {
			return err
		}
	}
	if err := r.finish(ctx); err != nil {
		return err
	}
	if failed := r.plan.Failed(); len(failed) > 0 {
		return r.fail(fmt.Sprintf("release %s failed on %s, tolerated (max_failure_ratio %g, failure_action %s): they went back to %s and serve, the others run %s; run again to retry them",
			spec.release, strings.Join(failed, ", "), spec.strategy.MaxFailureRatio, spec.strategy.FailureAction, spec.fallback, spec.release))
	}
	return r.done()
}

// startSurge brings up start-first's surge replicas at the release and puts
// them in service before any replica is drained. If one does not turn
// healthy, they go and the run fails with no replica touched.
func (r *rolloutRun) startSurge(ctx context.Context, surge []string) (rollout.Observation, error) {
	r.surge = surge
	obs, err := r.observe(ctx)
	if err != nil {
		return nil, err
	}
	obs, failure := r.replace(ctx, rollout.Batch{Services: surge, Heal: true}, obs, r.spec.strategy.Monitor)
	if failure == nil {
		return obs, nil
	}
	if !releaseFailed(failure) {
		return nil, failure
	}
	r.surge = nil
	if err := r.finish(ctx); err != nil {
		return nil, err
	}
	return nil, r.fail(fmt.Sprintf("release %s did not turn healthy on %s: no replica was touched, every one still runs %s; %s",
		r.spec.release, strings.Join(surge, ", "), r.spec.fallback, failure))
}

// failed applies failure_action to a batch that did not turn healthy. It
// returns the observation to go on from, or the error that ends the run.
func (r *rolloutRun) failed(ctx context.Context, b rollout.Batch, failure error) (rollout.Observation, error) {
	s := r.spec
	tolerated := r.plan.Fail(b)
	batch := strings.Join(b.Services, ", ")
	switch {
	case !tolerated && s.strategy.FailureAction == rollout.Pause:
		return nil, r.fail(fmt.Sprintf("paused: release %s failed on %s, which stays drained while the other replicas serve; run the upgrade again with a fixed release to go on, or with -e version=%s to go back; %s",
			s.release, batch, s.fallback, failure))
	case s.fallback == s.release:
		if err := r.finish(ctx); err != nil {
			return nil, err
		}
		return nil, r.fail(fmt.Sprintf("release %s did not turn healthy on %s, and there is no other release to go back to; %s", s.release, batch, failure))
	}
	r.ex.printer.Note(fmt.Sprintf("rollout %q: %s failed on %s; %s goes back to %s", r.g.Name, s.release, batch, batch, s.fallback))
	// The failed batch first: it is drained already.
	r.release = s.fallback
	obs, err := r.observe(ctx)
	if err != nil {
		return nil, err
	}
	if obs, err = r.replace(ctx, rollout.Batch{Services: b.Services, Heal: true}, obs, 0); err != nil {
		return nil, r.alsoFailed(err, "release %s did not turn healthy on %s, and going back to %s failed too", s.release, batch, s.fallback)
	}
	if tolerated {
		r.ex.printer.Note(fmt.Sprintf("rollout %q: %d of %d replicas failed, within max_failure_ratio %g (failure_action %s): going on", r.g.Name, len(r.plan.Failed()), len(s.replicas), s.strategy.MaxFailureRatio, s.strategy.FailureAction))
		r.release = s.release
		if obs, err = r.observe(ctx); err != nil {
			return nil, err
		}
		return obs, nil
	}
	// Past the ratio: every other replica back, one at a time.
	restore := r.plan.Restore()
	restore.Done(b)
	for rb := restore.Next(obs); len(rb.Services) > 0; rb = restore.Next(obs) {
		if obs, err = r.replace(ctx, rb, obs, 0); err != nil {
			return nil, r.alsoFailed(err, "release %s did not turn healthy on %s, and rolling %s back to %s failed too", s.release, batch, strings.Join(rb.Services, ", "), s.fallback)
		}
		restore.Done(rb)
	}
	r.surge = nil
	if err := r.finish(ctx); err != nil {
		return nil, err
	}
	return nil, r.fail(fmt.Sprintf("release %s did not turn healthy: every replica was rolled back to %s; %s", s.release, s.fallback, failure))
}

// replace runs one batch through drain, replace and undrain, observing in
// between (a replaced replica has a new address). A failure of the replace
// phase is the release's (a *releaseFailure; the batch stays drained); any
// other (the proxy rejected its conf, Docker does not answer) is returned
// as it is and ends the run: it says nothing of the release.
func (r *rolloutRun) replace(ctx context.Context, b rollout.Batch, obs rollout.Observation, monitor time.Duration) (rollout.Observation, error) {
	v := r.value()
	v.batch, v.heal, v.force, v.monitor = b.Services, b.Heal, b.Force, monitor
	v.upstream = obs.Upstream(b.Services)
	if err := r.phase(ctx, phaseDrain, v); err != nil {
		return obs, err
	}
	if err := r.phase(ctx, phaseReplace, v); err != nil {
		var failed *TaskFailedError
		if errors.As(err, &failed) {
			return obs, &releaseFailure{failed.Result}
		}
		return obs, err
	}
	obs, err := r.observe(ctx)
	if err != nil {
		return obs, err
	}
	v.upstream = obs.Upstream(nil)
	return obs, r.phase(ctx, phaseUndrain, v)
}

// releaseFailure is a task of the replace phase that failed: the release
// did not turn healthy on the batch.
type releaseFailure struct{ r *TaskResult }

func (e *releaseFailure) Error() string {
	return fmt.Sprintf("%s failed:\n  %s", e.r.Title(), strings.ReplaceAll(e.r.Error, "\n", "\n  "))
}

// releaseFailed reports whether err is the release's failure.
func releaseFailed(err error) bool {
	var rf *releaseFailure
	return errors.As(err, &rf)
}

// finish retires the replicas the compose file no longer lists (a surge,
// scaled-down ones) after draining them, and puts every serving replica in
// the proxy: a no-op on a converged deployment, and what brings the proxy
// back in line after an interrupted run.
func (r *rolloutRun) finish(ctx context.Context) error {
	r.surge = nil
	obs, err := r.observe(ctx)
	if err != nil {
		return err
	}
	if orphans := obs.Orphans(); len(orphans) > 0 {
		v := r.value()
		v.retiring, v.upstream = orphans, obs.Upstream(orphans)
		if err := r.phase(ctx, phaseDrain, v); err != nil {
			return err
		}
		if err := r.phase(ctx, phaseRetire, v); err != nil {
			return err
		}
		r.retired = append(r.retired, orphans...)
		if obs, err = r.observe(ctx); err != nil {
			return err
		}
	}
	v := r.value()
	v.upstream = obs.Upstream(nil)
	return r.phase(ctx, phaseUndrain, v)
}

// finishFailed is finish, then the run fails with msg.
func (r *rolloutRun) finishFailed(ctx context.Context, msg string) error {
	if err := r.finish(ctx); err != nil {
		return err
	}
	return r.fail(msg)
}

// observe runs the observe phase: the files rendered for r.release and the
// replicas as they are.
func (r *rolloutRun) observe(ctx context.Context) (rollout.Observation, error) {
	return r.constructRun.observe(ctx, r.value().cty())
}

// phase runs one phase's steps with v as rollout.*; the recap labels
// them with the batch (or the replicas being retired).
func (r *rolloutRun) phase(ctx context.Context, name string, v rolloutValue) error {
	return r.runPhase(ctx, name, v.cty(), strings.Join(append(slices.Clone(v.batch), v.retiring...), ", "))
}

// value is rollout.* outside a batch.
func (r *rolloutRun) value() rolloutValue {
	return rolloutValue{release: r.release, services: append(slices.Clone(r.spec.replicas), r.surge...)}
}

func (r *rolloutRun) record(b rollout.Batch) {
	if b.Heal && !slices.Contains(r.surge, b.Services[0]) {
		r.healed = append(r.healed, b.Services...)
	} else if !b.Heal {
		r.replaced = append(r.replaced, b.Services...)
	}
}

// done records the rollout's own recap line: changed when it replaced,
// healed or retired a replica.
func (r *rolloutRun) done() error {
	res := r.result()
	var parts []string
	if len(r.replaced) > 0 {
		parts = append(parts, fmt.Sprintf("%s at %s", strings.Join(r.replaced, ", "), r.spec.release))
	}
	if len(r.healed) > 0 {
		parts = append(parts, fmt.Sprintf("healed or created %s", strings.Join(r.healed, ", ")))
	}
	if len(r.retired) > 0 {
		parts = append(parts, fmt.Sprintf("retired %s", strings.Join(r.retired, ", ")))
	}
	res.Status = StatusOK
	res.Msg = fmt.Sprintf("every replica (%d) at %s, serving", len(r.spec.replicas), r.spec.release)
	if r.ex.opts.Check && len(parts) > 0 {
		res.Msg = fmt.Sprintf("would bring every replica (%d) to %s", len(r.spec.replicas), r.spec.release)
	}
	if len(parts) > 0 {
		res.Status = StatusChanged
		res.Msg += ": " + strings.Join(parts, "; ")
	}
	r.ex.finish(r.decl(), res, r.f)
	return nil
}

// alsoFailed fails the rollout when going back failed too, saying what it
// was doing; any failure but the release's is passed on as it is.
func (r *rolloutRun) alsoFailed(err error, format string, args ...any) error {
	if !releaseFailed(err) {
		return err
	}
	return r.fail(fmt.Sprintf(format, args...) + "; " + err.Error())
}

// rolloutValue is rollout.* in a phase.
type rolloutValue struct {
	release  string
	services []string
	batch    []string
	heal     bool
	force    bool
	monitor  time.Duration
	upstream []rollout.Server
	retiring []string
}

var serverType = cty.Object(map[string]cty.Type{"name": cty.String, "address": cty.String, "down": cty.Bool})

// upstreamValue is an upstream as the proxy kind takes it: a list of
// { name, address, down }.
func upstreamValue(upstream []rollout.Server) cty.Value {
	servers := make([]cty.Value, 0, len(upstream))
	for _, s := range upstream {
		servers = append(servers, cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(s.Name), "address": cty.StringVal(s.Address), "down": cty.BoolVal(s.Down)}))
	}
	if len(servers) == 0 {
		return cty.ListValEmpty(serverType)
	}
	return cty.ListVal(servers)
}

func (v rolloutValue) cty() cty.Value {
	upstream := upstreamValue(v.upstream)
	return cty.ObjectVal(map[string]cty.Value{
		"release":  cty.StringVal(v.release),
		"services": stringList(v.services),
		"batch":    stringList(v.batch),
		"heal":     cty.BoolVal(v.heal),
		"force":    cty.BoolVal(v.force),
		"monitor":  cty.StringVal(v.monitor.String()),
		"upstream": upstream,
		"retiring": stringList(v.retiring),
	})
}

func stringList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

// observedBy keeps what an observing task saw, for the rollout it runs in.
func observedBy(f frame, res tasks.Result) {
	if f.observed != nil && res.Replicas != nil {
		*f.observed = res.Replicas
	}
}
