package runner

import (
	"time"

	"context"
	"errors"
	"fmt"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"maps"
	"sync"
)

// groupAttrs evaluates a group's loop and its options: the items of
// for_each (one cty.NilVal item without it), parallel, pause and
// max_failure_ratio.
func (ex *executor) groupAttrs(g *Group, ctx *hcl.EvalContext) (items []cty.Value, parallel bool, pause time.Duration, ratio float64, err error) {
	items = []cty.Value{cty.NilVal}
	if g.ForEach != nil {
		if items, err = loopItems(g.ForEach, ctx); err != nil {
			return
		}
	}
	if parallel, err = namedBool(g.Parallel, ctx, false, "parallel"); err != nil {
		return
	}
	if pause, err = durationAttr(g.Pause, ctx, 0); err != nil {
		return
	}
	ratio, err = ratioAttr(g.MaxFailureRatio, ctx)
	return
}

func (ex *executor) runGroup(ctx context.Context, g *Group, f frame) error {
	f.tags = concatTags(f.tags, g.Tags)
	if !ex.anySelected(g.Steps, f.tags) {
		return nil
	}
	switch g.Kind {
	case blockRollout:
		return ex.runRollout(ctx, g, f)
	case blockBlueGreen:
		return ex.runBlueGreen(ctx, g, f)
	}
	items, parallel, pause, ratio, err := ex.groupAttrs(g, ex.evalContext(f))
	if err != nil {
		return err
	}
	if parallel {
		return ex.runParallel(ctx, g, f, items)
	}
	loop := &itemFailures{items: len(items), ratio: ratio}
	for i, each := range items {
		if i > 0 && pause > 0 {
			ex.printer.Note(fmt.Sprintf("%s %q: pausing %s before the next item", g.Kind, g.Name, pause))
			if err := sleepCtx(ctx, pause); err != nil {
				return err
			}
		}
		inner := f
		if each != cty.NilVal {
			inner.each = each
		}
		switch err := ex.runItem(ctx, g, inner, loop); {
		case errors.Is(err, errTolerated):
			continue
		case errors.Is(err, errRescued):
			return nil
		case err != nil:
			return err
		}
	}
	if len(loop.unrescued) > 0 {
		return fmt.Errorf("%s %q: %d of %d items failed (within max_failure_ratio %g, so it went on); the first: %w",
			g.Kind, g.Name, loop.failed, loop.items, loop.ratio, loop.unrescued[0])
	}
	return nil
}

// runItem runs a group's steps for one item, and its rescue on failure. loop
// counts a serial's failed items (nil for other groups).
func (ex *executor) runItem(ctx context.Context, g *Group, f frame, loop *itemFailures) error {
	if g.When != nil {
		ok, diags := truthy(g.When, ex.evalContext(f), "when")
		if diags.HasErrors() {
			return diagError(diags)
		}
		if !ok {
			ex.skipAll(g.Steps, f)
			return nil
		}
	}
	err := ex.runSteps(ctx, g.Steps, f)
	var failed *TaskFailedError
	if err == nil || !errors.As(err, &failed) {
		return err
	}
	tolerated := loop.fail()
	if len(g.Rescue) > 0 {
		ex.printer.Note(fmt.Sprintf("%s %q failed: running its rescue", g.Kind, g.Name))
		// A rescued group, as in Ansible, is not a failure; its loop stops
		// at the failed item, unless the failure was within the serial's
		// max_failure_ratio, and the run goes on.
		f.failure = loop.value(tolerated, failed.Result)
		if rerr := ex.runSteps(ctx, g.Rescue, f); rerr != nil {
			return rerr
		}
		if tolerated {
			return errTolerated
		}
		return errRescued
	}
	if tolerated {
		ex.printer.Note(fmt.Sprintf("%s %q: %d of %d items failed, within max_failure_ratio %g: going on with the next", g.Kind, g.Name, loop.failed, loop.items, loop.ratio))
		loop.unrescued = append(loop.unrescued, err)
		return errTolerated
	}
	return err
}

var (
	// errRescued ends a group's loop after its rescue ran; the run goes on.
	errRescued = errors.New("rescued")
	// errTolerated goes on with a serial's next item after a failed one
	// within its max_failure_ratio.
	errTolerated = errors.New("failure tolerated")
)

// itemFailures counts the failed items of a serial against its
// max_failure_ratio.
type itemFailures struct {
	items     int
	ratio     float64
	failed    int
	unrescued []error // tolerated failures no rescue handled
}

// fail counts a failed item and reports whether the loop may go on.
func (l *itemFailures) fail() bool {
	if l == nil {
		return false
	}
	l.failed++
	return float64(l.failed) <= l.ratio*float64(l.items)
}

// value is `failure` in a rescue: the task that failed (failure.task, its
// title) and why (failure.error, redacted), failure.failed items of
// failure.items so far, and failure.tolerated when the serial goes on with
// its next item once the rescue is done.
func (l *itemFailures) value(tolerated bool, r *TaskResult) cty.Value {
	failed, items := 1, 1
	if l != nil {
		failed, items = l.failed, l.items
	}
	return cty.ObjectVal(map[string]cty.Value{
		"task":      cty.StringVal(r.Title()),
		"error":     cty.StringVal(r.Error),
		"tolerated": cty.BoolVal(tolerated),
		"failed":    cty.NumberIntVal(int64(failed)),
		"items":     cty.NumberIntVal(int64(items)),
	})
}

// runParallel runs every item of a block at once and waits for all; the
// first failure is the block's.
func (ex *executor) runParallel(ctx context.Context, g *Group, f frame, items []cty.Value) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	var panics goroutinePanic
	for i, each := range items {
		inner := f
		inner.each = each
		inner.own = maps.Clone(f.own)
		if inner.own == nil {
			inner.own = map[string]cty.Value{}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer panics.catch()
			errs[i] = ex.runItem(ctx, g, inner, nil)
		}()
	}
	wg.Wait()
	panics.rethrow()
	for _, err := range errs {
		if err != nil && !errors.Is(err, errRescued) {
			return err
		}
	}
	return nil
}

// loopItems turns a for_each value into each objects {key, value}.
func loopItems(expr hcl.Expression, ctx *hcl.EvalContext) ([]cty.Value, error) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	if v.IsNull() || !v.CanIterateElements() {
		return nil, diagError(hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid for_each",
			Detail:  "for_each must be a list, set or map; this is " + v.Type().FriendlyName() + ".",
			Subject: expr.Range().Ptr(),
		}})
	}
	var items []cty.Value
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		if v.Type().IsSetType() {
			k = val
		}
		items = append(items, cty.ObjectVal(map[string]cty.Value{"key": k, "value": val}))
	}
	return items, nil
}
