package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zdplay/zdplay/internal/rollout"
)

// construct is a block of the language that the engine drives (a rollout,
// a bluegreen): it evaluates the block's attributes, decides in Go what
// to do, and runs the block's phases (blocks of the playbook's own steps,
// so what is done stays visible tasks) when it needs them, with KIND.* set
// in them.
type construct struct {
	kind     string   // the block type, and the root of what its phases see
	attrs    []string // its attributes
	required []string
	phases   []string // its phase blocks, in the order listings show them
	needs    []string // the phases it cannot do without
	// needsDetail says what the needed phases are for.
	needsDetail string
	// values are the attributes of KIND.* in its phases.
	values []string
	// check evaluates and checks the block's attributes, as its run does
	// first; preflight calls it when they are known before the run.
	check func(ex *executor, g *Group, f frame) error
}

// constructs are the engine's constructs, by block type.
var constructs = map[string]*construct{blockRollout: rolloutConstruct, blockBlueGreen: blueGreenConstruct}

func (c *construct) schema() *hcl.BodySchema {
	s := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "tags"}}}
	for _, a := range c.attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a, Required: slices.Contains(c.required, a)})
	}
	for _, p := range c.phases {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: p})
	}
	s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: blockTaskDefaults})
	return s
}

// Phased is a construct block's attributes and phases. It lives on a Group
// whose Steps are every phase's steps, in order, so that what walks steps
// (tags, listing, validation) sees them.
type Phased struct {
	construct *construct
	Attrs     map[string]hcl.Expression
	Phases    map[string][]Step
}

func decodeConstruct(c *construct, b *hcl.Block, baseDir string, inherited taskDefaults) (*Group, hcl.Diagnostics) {
	content, diags := b.Body.Content(c.schema())
	defs, own, d := inherited.within(content.Blocks) // for every phase
	diags = append(diags, d...)
	g := &Group{Kind: c.kind, Name: b.Labels[0], DeclRange: b.DefRange,
		Phased: &Phased{construct: c, Attrs: map[string]hcl.Expression{}, Phases: map[string][]Step{}}}
	tags, d := attrTags(content)
	g.Tags, diags = tags, append(diags, d...)
	for _, name := range c.attrs {
		if a, ok := content.Attributes[name]; ok {
			g.Phased.Attrs[name] = a.Expr
		}
	}
	seen := map[string]hcl.Range{}
	for _, pb := range content.Blocks {
		if pb.Type == blockTaskDefaults {
			continue
		}
		if first, dup := seen[pb.Type]; dup {
			diags = append(diags, duplicate(pb.Type+" block of "+c.kind, g.Name, first, pb.DefRange))
			continue
		}
		seen[pb.Type] = pb.DefRange
		pc, d := pb.Body.Content(rescueSchema)
		diags = append(diags, d...)
		steps, d := decodeSteps(pc.Blocks, baseDir, defs)
		diags = append(diags, d...)
		g.Phased.Phases[pb.Type] = steps
	}
	var missing []string
	for _, p := range c.needs {
		if _, ok := seen[p]; !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing " + strings.Join(missing, " and ") + " block",
			Detail:   c.needsDetail,
			Subject:  b.DefRange.Ptr(),
		})
	}
	for _, p := range c.phases {
		g.Steps = append(g.Steps, g.Phased.Phases[p]...)
	}
	return g, append(diags, own.unused()...)
}

// phaseValue is what a construct's phases see: KIND.* as root.*.
type phaseValue struct {
	root  string
	value cty.Value
}

// constructRun is what every run of a construct's block does alike: run a
// phase with KIND.* set, observe the replicas, and record its own recap
// line (KIND "NAME"), which says what it did or why it failed.
type constructRun struct {
	ex    *executor
	g     *Group
	f     frame
	start time.Time
}

func newConstructRun(ex *executor, g *Group, f frame) constructRun {
	return constructRun{ex: ex, g: g, f: f, start: time.Now()}
}

// runPhase runs one phase's steps with v as KIND.*; the recap labels them
// with label (a batch, a colour).
func (c *constructRun) runPhase(ctx context.Context, name string, v cty.Value, label string) error {
	f := c.f
	f.phase = phaseValue{c.g.Kind, v}
	f.label = label
	return c.ex.runSteps(ctx, c.g.Phased.Phases[name], f)
}

// observe runs the observe phase with v as KIND.* and returns what its
// compose_replicas task saw.
func (c *constructRun) observe(ctx context.Context, v cty.Value) (rollout.Observation, error) {
	var obs rollout.Observation
	f := c.f
	f.phase = phaseValue{c.g.Kind, v}
	f.observed = &obs
	if err := c.ex.runSteps(ctx, c.g.Phased.Phases[phaseObserve], f); err != nil {
		return nil, err
	}
	if obs == nil {
		return nil, fmt.Errorf("%s %q: its observe block ran no task that observes the replicas (compose_replicas)", c.g.Kind, c.g.Name)
	}
	return obs, nil
}

// fail records the block as failed with msg and stops the run.
func (c *constructRun) fail(msg string) error {
	return c.ex.fail(c.decl(), c.result(), c.f, errors.New(msg), false)
}

func (c *constructRun) decl() *TaskDecl {
	return &TaskDecl{Kind: c.g.Kind, Name: c.g.Name, Tags: c.g.Tags, DeclRange: c.g.DeclRange}
}

func (c *constructRun) result() *TaskResult {
	res := c.ex.newResult(c.decl(), c.f)
	res.Duration = time.Since(c.start)
	return res
}
