package runner

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
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
