package runner

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	return decodeTyped(b, variableSchema)
}

// decodeTyped decodes a block declared as a variable is: a type (any when
// left out), a default (nil: required), a description and, where schema
// has it, sensitive. A role's param is such a block too.
func decodeTyped(b *hcl.Block, schema *hcl.BodySchema) (*Variable, hcl.Diagnostics) {
	content, diags := b.Body.Content(schema)
	v := &Variable{Name: b.Labels[0], DeclRange: b.DefRange, Type: anyType, Default: attrExpr(content, "default")}
	if a, ok := content.Attributes["type"]; ok {
		t, d := parseType(a.Expr)
		diags = append(diags, d...)
		v.Type = t
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeStatic(a.Expr, &v.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, decodeStatic(a.Expr, &v.Sensitive)...)
	}
	return v, diags
}

// attrExpr is the expression of the attribute name, nil when the block
// leaves it out: such attributes are evaluated later, in the run's scope.
func attrExpr(content *hcl.BodyContent, name string) hcl.Expression {
	if a, ok := content.Attributes[name]; ok {
		return a.Expr
	}
	return nil
}

// attrTags decodes the tags attribute that plays, roles and blocks share.
func attrTags(content *hcl.BodyContent) ([]string, hcl.Diagnostics) {
	if a, ok := content.Attributes["tags"]; ok {
		return decodeTags(a.Expr)
	}
	return nil, nil
}

func decodePlay(b *hcl.Block) (*Play, hcl.Diagnostics) {
	content, diags := b.Body.Content(playSchema)
	tags, d := attrTags(content)
	diags = append(diags, d...)
	p := &Play{Name: b.Labels[0], Tags: tags, Vars: attrExpr(content, "vars"), DeclRange: b.DefRange}
	if a, ok := content.Attributes["roles"]; ok {
		names, ranges, d := staticStrings(a.Expr)
		diags = append(diags, d...)
		p.RoleNames, p.RoleRange = names, ranges
	}
	if a, ok := content.Attributes["hosts"]; ok {
		var hosts string
		d := decodeStatic(a.Expr, &hosts)
		diags = append(diags, d...)
		if !d.HasErrors() && hosts != "localhost" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported hosts",
				Detail:   "zdplay drives the local Docker engine only: set hosts = \"localhost\" or leave it out.",
				Subject:  a.Expr.Range().Ptr(),
			})
		}
	}
	return p, diags
}

func decodeRole(name string, body hcl.Body, baseDir string, declRange hcl.Range, inherited taskDefaults) (*Role, hcl.Diagnostics) {
	content, diags := body.Content(roleSchema)
	defs, own, d := inherited.within(content.Blocks)
	diags = append(diags, d...)
	dir, err := filepath.Abs(baseDir)
	if err != nil {
		dir = baseDir
	}
	tags, d := attrTags(content)
	diags = append(diags, d...)
	r := &Role{Name: name, Dir: dir, Tags: tags, Vars: attrExpr(content, "vars"), DeclRange: declRange, registers: map[string]bool{}}
	for _, b := range content.Blocks.OfType(blockParam) {
		p, d := decodeParam(b)
		diags = append(diags, d...)
		if prev := r.param(p.Name); prev != nil {
			diags = append(diags, duplicate("param", p.Name, prev.DeclRange, p.DeclRange))
			continue
		}
		r.Params = append(r.Params, p)
	}
	for _, b := range content.Blocks {
		if b.Type == blockHandler {
			h, d := decodeTask(b, baseDir)
			diags = append(diags, d...)
			if h != nil {
				if i := slices.IndexFunc(r.Handlers, func(o *TaskDecl) bool { return o.Name == h.Name }); i >= 0 {
					diags = append(diags, duplicate("handler", h.Kind+" "+quote(h.Name), r.Handlers[i].DeclRange, h.DeclRange))
					continue
				}
				h.Handler = true
				defs.apply(h)
				r.Handlers = append(r.Handlers, h)
			}
		}
	}
	steps, d := decodeStepsWith(content.Blocks, baseDir, defs)
	r.Steps = steps
	walkTasks(append(slices.Clone(r.Steps), handlerSteps(r.Handlers)...), func(t *TaskDecl) {
		if t.Register != "" {
			r.registers[t.Register] = true
		}
	})
	return r, append(append(diags, d...), own.unused()...)
}

func handlerSteps(hs []*TaskDecl) []Step {
	out := make([]Step, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// decodeSteps decodes a body's steps under the task defaults of the bodies
// around it and its own.
func decodeSteps(blocks hcl.Blocks, baseDir string, inherited taskDefaults) ([]Step, hcl.Diagnostics) {
	defs, own, diags := inherited.within(blocks)
	steps, d := decodeStepsWith(blocks, baseDir, defs)
	return steps, append(append(diags, d...), own.unused()...)
}

func decodeStepsWith(blocks hcl.Blocks, baseDir string, defs taskDefaults) ([]Step, hcl.Diagnostics) {
	var steps []Step
	var diags hcl.Diagnostics
	names := map[string]*TaskDecl{} // the tasks of this body, by kind and name
	for _, b := range blocks {
		switch b.Type {
		case blockTask:
			t, d := decodeTask(b, baseDir)
			diags = append(diags, d...)
			if t != nil {
				// kind "name" is how the recap names a task: two
				// of a body may not share it.
				key := t.Kind + " " + quote(t.Name)
				if prev := names[key]; prev != nil && t.Kind != flushHandlers {
					diags = append(diags, duplicate("task", key, prev.DeclRange, t.DeclRange))
					continue
				}
				names[key] = t
				defs.apply(t)
				steps = append(steps, t)
			}
		case blockBlock, blockSerial:
			g, d := decodeGroup(b, baseDir, defs)
			diags = append(diags, d...)
			steps = append(steps, g)
		case blockRollout, blockBlueGreen:
			g, d := decodeConstruct(constructs[b.Type], b, baseDir, defs)
			diags = append(diags, d...)
			steps = append(steps, g)
		case blockInclude:
			content, d := b.Body.Content(includeSchema)
			diags = append(diags, d...)
			inc := &Include{Role: b.Labels[0], DeclRange: b.DefRange}
			inc.Vars = attrExpr(content, "vars")
			steps = append(steps, inc)
		}
	}
	return steps, diags
}

func decodeGroup(b *hcl.Block, baseDir string, defs taskDefaults) (*Group, hcl.Diagnostics) {
	content, diags := b.Body.Content(groupSchema)
	tags, d := attrTags(content)
	diags = append(diags, d...)
	g := &Group{Kind: b.Type, Name: b.Labels[0], Tags: tags, DeclRange: b.DefRange,
		ForEach: attrExpr(content, "for_each"), When: attrExpr(content, "when"), Pause: attrExpr(content, "pause")}
	if a, ok := content.Attributes["parallel"]; ok {
		g.Parallel = a.Expr
		if g.Kind == blockSerial || g.ForEach == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "parallel needs a looped block",
				Detail:   "parallel = true runs the items of a block's for_each at once; a serial runs them one at a time by definition.",
				Subject:  a.NameRange.Ptr(),
			})
		}
	}
	if a, ok := content.Attributes["max_failure_ratio"]; ok {
		g.MaxFailureRatio = a.Expr
		if g.Kind != blockSerial {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "max_failure_ratio needs a serial",
				Detail:   "max_failure_ratio is the share of a serial's items that may fail while it goes on with the next one; use serial \"...\" { for_each = ... }.",
				Subject:  a.NameRange.Ptr(),
			})
		}
	}
	if g.Kind == blockSerial && g.ForEach == nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing for_each",
			Detail:   "A serial block runs its body once per item, one item at a time: give it for_each = [...].",
			Subject:  b.DefRange.Ptr(),
		})
	}
	defs, own, d := defs.within(content.Blocks) // a rescue inherits its block's
	diags = append(diags, d...)
	steps, d := decodeStepsWith(content.Blocks, baseDir, defs)
	diags = append(diags, d...)
	g.Steps = steps
	for _, rb := range content.Blocks.OfType(blockRescue) {
		rc, d := rb.Body.Content(rescueSchema)
		diags = append(diags, d...)
		steps, d := decodeSteps(rc.Blocks, baseDir, defs)
		diags = append(diags, d...)
		g.Rescue = append(g.Rescue, steps...)
	}
	return g, append(diags, own.unused()...)
}

func decodeTask(b *hcl.Block, baseDir string) (*TaskDecl, hcl.Diagnostics) {
	content, rest, diags := b.Body.PartialContent(commonTaskSchema)
	t := &TaskDecl{Kind: b.Labels[0], Name: b.Labels[1], Body: rest, BaseDir: baseDir, DeclRange: b.DefRange}
	for name, a := range content.Attributes {
		switch name {
		case "tags":
			tags, d := decodeTags(a.Expr)
			t.Tags = tags
			diags = append(diags, d...)
		case "notify":
			t.Notify, _, _ = staticStrings(a.Expr)
			diags = append(diags, checkStaticStrings(a.Expr)...)
		case "register":
			d := decodeStatic(a.Expr, &t.Register)
			diags = append(diags, d...)
			if !d.HasErrors() && !hclsyntax.ValidIdentifier(t.Register) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid register name " + quote(t.Register),
					Detail:   quote(t.Register) + " is not a name expressions can refer to: use letters, digits, _ and -, starting with a letter (e.g. \"conf\").",
					Subject:  a.Expr.Range().Ptr(),
				})
			}
			if reservedRoots[t.Register] {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reserved register name",
					Detail:   quote(t.Register) + " is a built-in name in expressions; choose another.",
					Subject:  a.Expr.Range().Ptr(),
				})
			}
		case "when":
			t.When = a.Expr
		case "ignore_errors":
			t.IgnoreErrors = a.Expr
		case "retries":
			t.Retries = a.Expr
		case "delay":
			t.Delay = a.Expr
		case "timeout":
			t.Timeout = a.Expr
		}
	}
	return t, diags
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	list := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
	return list
}

// duplicate reports a second declaration of what label names (`"x"`,
// `template "conf"`), with the file:line:col of both.
func duplicate(what, label string, first, again hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + what + " " + label,
		Detail: fmt.Sprintf("The %s %s at %s was first declared at %s; rename or remove one.",
			what, label, position(again), position(first)),
		Subject: again.Ptr(),
	}
}

// position is file:line:col.
func position(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func quote(s string) string { return `"` + s + `"` }
