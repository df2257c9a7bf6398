package runner

import (
	"github.com/hashicorp/hcl/v2"
)

// blockRollout is the rolling update as a construct of the language: the
// engine decides the batches (internal/rollout), the playbook's own steps do
// the work, one phase block each.
const blockRollout = "rollout"

// The phases of a rollout block, run by the engine when it needs them:
//
//	observe  render the stack's files for rollout.release and
//	         rollout.services, then look at the replicas (compose_replicas):
//	         before every decision
//	drain    take rollout.upstream's down servers out of the proxy
//	replace  recreate rollout.batch and wait until each is healthy
//	undrain  put rollout.upstream back in the proxy
//	retire   remove the replicas the compose file no longer lists
const (
	phaseObserve = "observe"
	phaseDrain   = "drain"
	phaseReplace = "replace"
	phaseUndrain = "undrain"
	phaseRetire  = "retire"
)

var rolloutPhases = []string{phaseObserve, phaseDrain, phaseReplace, phaseUndrain, phaseRetire}

// strategyAttrs are the strategy's attributes, in Compose's
// deploy.update_config names.
var strategyAttrs = []string{"parallelism", "order", "delay", "monitor", "failure_action", "max_failure_ratio"}

// rolloutAttrs are a rollout's attributes: what it rolls, to which release,
// and the strategy, one attribute each or as one update_config object of
// the same names (compose_app's outputs.update_config), which the single
// attributes override.
var rolloutAttrs = append([]string{"replicas", "release", "fallback", attrUpdateConfig}, strategyAttrs...)

const attrUpdateConfig = "update_config"

var rolloutSchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "tags"}}}
	for _, a := range rolloutAttrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a, Required: a == "replicas" || a == "release"})
	}
	for _, p := range rolloutPhases {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: p})
	}
	s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: blockTaskDefaults})
	return s
}()

// Rollout is a rollout block's attributes and phases. It lives on a Group
// (Kind blockRollout) whose Steps are every phase's steps, in order, so that
// what walks steps (tags, listing, validation) sees them.
type Rollout struct {
	Attrs  map[string]hcl.Expression
	Phases map[string][]Step
}

func decodeRollout(b *hcl.Block, baseDir string, inherited taskDefaults) (*Group, hcl.Diagnostics) {
	content, diags := b.Body.Content(rolloutSchema)
	defs, own, d := inherited.within(content.Blocks) // for every phase
	diags = append(diags, d...)
	g := &Group{Kind: blockRollout, Name: b.Labels[0], DeclRange: b.DefRange,
		Rollout: &Rollout{Attrs: map[string]hcl.Expression{}, Phases: map[string][]Step{}}}
	tags, d := attrTags(content)
	g.Tags, diags = tags, append(diags, d...)
	for _, name := range rolloutAttrs {
		if a, ok := content.Attributes[name]; ok {
			g.Rollout.Attrs[name] = a.Expr
		}
	}
	seen := map[string]hcl.Range{}
	for _, pb := range content.Blocks {
		if pb.Type == blockTaskDefaults {
			continue
		}
		if first, dup := seen[pb.Type]; dup {
			diags = append(diags, duplicate(pb.Type+" block of rollout", g.Name, first, pb.DefRange))
			continue
		}
		seen[pb.Type] = pb.DefRange
		pc, d := pb.Body.Content(rescueSchema)
		diags = append(diags, d...)
		steps, d := decodeSteps(pc.Blocks, baseDir, defs)
		diags = append(diags, d...)
		g.Rollout.Phases[pb.Type] = steps
	}
	for _, p := range []string{phaseObserve, phaseReplace} {
		if _, ok := seen[p]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing " + p + " block",
				Detail:   "A rollout needs an observe block (render the files, then a compose_replicas task) and a replace block (recreate rollout.batch, wait until healthy); drain, undrain and retire are optional.",
				Subject:  b.DefRange.Ptr(),
			})
		}
	}
	for _, p := range rolloutPhases {
		g.Steps = append(g.Steps, g.Rollout.Phases[p]...)
	}
	return g, append(diags, own.unused()...)
}
