package runner

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zdplay/zdplay/tasks"
)

// blockTaskDefaults gives attributes to every task below it, in the same
// file, whose kind has them and that does not set them itself: Ansible's
// module_defaults, for what a role's tasks all say (file = local.compose,
// project = var.project, docker_host = var.docker_host). It is lexical:
// a playbook's applies to its role blocks, a role's or a block's to the
// tasks inside, never to a role they include.
const blockTaskDefaults = "task_defaults"

// taskDefaults are the defaults in force in a body: its own over those of
// the bodies around it.
type taskDefaults map[string]*taskDefault

type taskDefault struct {
	attr *hcl.Attribute
	used bool // some task's kind has it: else it is a typo
}

// within returns the defaults in force inside a body whose blocks are
// blocks: d, overridden by the body's own task_defaults block, if any.
func (d taskDefaults) within(blocks hcl.Blocks) (taskDefaults, taskDefaults, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	own := taskDefaults{}
	for i, b := range blocks.OfType(blockTaskDefaults) {
		if i > 0 {
			diags = append(diags, duplicate(blockTaskDefaults+" block", "of this body", blocks.OfType(blockTaskDefaults)[0].DefRange, b.DefRange))
			continue
		}
		attrs, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		for name, a := range attrs {
			if commonTaskAttr(name) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unsupported task default " + quote(name),
					Detail:   fmt.Sprintf("%s gives the attributes of task kinds; %s is one every task has: set it on the task, or on a block around the tasks.", blockTaskDefaults, name),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			own[name] = &taskDefault{attr: a}
		}
	}
	if len(own) == 0 {
		return d, own, diags
	}
	merged := taskDefaults{}
	for name, td := range d {
		merged[name] = td
	}
	for name, td := range own {
		merged[name] = td
	}
	return merged, own, diags
}

func commonTaskAttr(name string) bool {
	for _, a := range commonTaskSchema.Attributes {
		if a.Name == name {
			return true
		}
	}
	return false
}

// apply gives t the defaults its kind has. An unknown kind gets none: its
// error is reported where the kind is checked.
func (d taskDefaults) apply(t *TaskDecl) {
	if len(d) == 0 || t.Kind == flushHandlers {
		return
	}
	kind, ok := tasks.Lookup(t.Kind)
	if !ok {
		return
	}
	schema, _ := gohcl.ImpliedBodySchema(kind.New())
	attrs := hcl.Attributes{}
	for _, a := range schema.Attributes {
		if td, ok := d[a.Name]; ok {
			td.used = true
			attrs[a.Name] = td.attr
		}
	}
	if len(attrs) > 0 {
		t.Body = defaultedBody{Body: t.Body, defaults: attrs}
	}
}

// unused reports the defaults no task below has a use for.
func (d taskDefaults) unused() hcl.Diagnostics {
	var names []string
	for name, td := range d {
		if !td.used {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var diags hcl.Diagnostics
	for _, name := range names {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unused task default " + quote(name),
			Detail:   fmt.Sprintf("No task below this %s block has a kind with an attribute %q: remove it, or check its spelling against the kinds' attributes (zdplay kinds).", blockTaskDefaults, name),
			Subject:  d[name].attr.NameRange.Ptr(),
		})
	}
	return diags
}

// defaultedBody is a task body with the defaults its kind has: what the
// task sets itself wins.
type defaultedBody struct {
	hcl.Body
	defaults hcl.Attributes
}

func (b defaultedBody) Content(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, diags := b.Body.Content(b.optional(schema))
	b.fill(c, schema)
	return c, diags
}

func (b defaultedBody) PartialContent(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	c, rest, diags := b.Body.PartialContent(b.optional(schema))
	b.fill(c, schema)
	return c, rest, diags
}

func (b defaultedBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) {
	attrs, diags := b.Body.JustAttributes()
	out := hcl.Attributes{}
	for name, a := range b.defaults {
		out[name] = a
	}
	for name, a := range attrs {
		out[name] = a
	}
	return out, diags
}

// optional is schema with the defaulted attributes not required: the
// default fills them when the task leaves them out.
func (b defaultedBody) optional(schema *hcl.BodySchema) *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: schema.Blocks}
	for _, a := range schema.Attributes {
		if _, ok := b.defaults[a.Name]; ok {
			a.Required = false
		}
		s.Attributes = append(s.Attributes, a)
	}
	return s
}

func (b defaultedBody) fill(c *hcl.BodyContent, schema *hcl.BodySchema) {
	for _, a := range schema.Attributes {
		if _, set := c.Attributes[a.Name]; !set {
			if d, ok := b.defaults[a.Name]; ok {
				c.Attributes[a.Name] = d
			}
		}
	}
}
