package runner

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// attrImport lists files, relative to the playbook, whose declarations it
// takes instead of copying them. Each is one of two things:
//
//   - a variables file (variable blocks only: the demo app's variables, for
//     app.hcl, bluegreen.hcl and swarm.hcl);
//   - a playbook (it has a play): its variables, locals, plays and roles,
//     with its own imports and defaults applied, so that app.hcl is
//     compose.hcl over the demo's compose file. Its plays run first; its
//     roles' files are also looked for beside it.
//
// As with Terraform's override files, what the playbook declares itself
// (a variable, a local, a role) replaces the imported one of that name, and
// a variable of an imported variables file counts as the playbook's own
// against an imported playbook's; two variables files (or two playbooks)
// may not declare the same variable.
//
//	import = ["compose.hcl", "demo.vars.hcl"]
const attrImport = "import"

// attrDefaults gives imported variables other defaults, keeping their type
// and description: an object of variable name = value, evaluated when the
// playbook loads, with path.playbook (the importing playbook's directory)
// and the functions, nothing else.
//
//	defaults = { service = "app", compose = "${path.playbook}/demo.compose.yaml" }
const attrDefaults = "defaults"

// importSchema is an imported variables file: variable blocks only.
var importSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: blockVariable, LabelNames: []string{"name"}}},
}

// imports reads the files attr names into pb, then applies defaults; call
// it once the playbook's own declarations are in pb. chain is the files
// being imported (pb's last), to refuse a cycle.
func (pb *Playbook) imports(attr, defaults *hcl.Attribute, chain []string) hcl.Diagnostics {
	files, ranges, diags := staticStrings(attr.Expr)
	if diags.HasErrors() {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid import",
			Detail:  `import is a list of file names, relative to the playbook, e.g. import = ["demo.vars.hcl"].`,
			Subject: attr.Expr.Range().Ptr(),
		}}
	}
	own := map[string]bool{}
	for _, v := range pb.Variables {
		own[v.Name] = true
	}
	fromFiles := map[string]*Variable{}     // variables files' variables
	var fileVars []*Variable                // the same, in order
	fromPlaybooks := map[string]*Variable{} // imported playbooks' variables
	var subs []*Playbook
	for i, name := range files {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(pb.Dir, path)
		}
		subject := attr.Expr.Range()
		if i < len(ranges) {
			subject = ranges[i]
		}
		if slices.Contains(chain, absPath(path)) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Import cycle",
				Detail:  fmt.Sprintf("%s imports itself: %s.", name, strings.Join(append(chain, absPath(path)), " imports ")),
				Subject: subject.Ptr(),
			})
			continue
		}
		f, d := pb.parseFile(path, "imported file")
		for _, diag := range d {
			if diag.Subject == nil {
				diag.Subject = subject.Ptr()
			}
		}
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if isPlaybook(f) {
			sub := &Playbook{File: path, Dir: filepath.Dir(path), Roles: map[string]*Role{}, parser: pb.parser, opts: pb.opts}
			diags = append(diags, sub.decode(f, append(slices.Clone(chain), absPath(path)))...)
			for _, v := range sub.Variables {
				if prev := fromPlaybooks[v.Name]; prev != nil {
					diags = append(diags, duplicate("variable", quote(v.Name), prev.DeclRange, v.DeclRange))
				}
				fromPlaybooks[v.Name] = v
			}
			subs = append(subs, sub)
			continue
		}
		content, d := f.Body.Content(importSchema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			v, d := decodeVariable(b)
			diags = append(diags, d...)
			if v == nil || own[v.Name] {
				continue
			}
			if prev := fromFiles[v.Name]; prev != nil {
				diags = append(diags, duplicate("variable", quote(v.Name), prev.DeclRange, b.DefRange))
				continue
			}
			fromFiles[v.Name] = v
			fileVars = append(fileVars, v)
		}
	}

	// The imported playbooks' declarations first, then the playbook's own,
	// each replacing an imported one of its name.
	var vars []*Variable
	var plays []*Play
	for _, sub := range subs {
		for _, v := range sub.Variables {
			if !own[v.Name] && fromFiles[v.Name] == nil {
				vars = append(vars, v)
			}
		}
		for _, a := range sub.Locals {
			if pb.local(a.Name) == nil {
				pb.Locals = append(pb.Locals, a)
			}
		}
		for name, r := range sub.Roles {
			if _, ok := pb.Roles[name]; !ok {
				pb.Roles[name] = r
			}
		}
		plays = append(plays, sub.Plays...)
		pb.importDirs = append(append(pb.importDirs, sub.Dir), sub.importDirs...)
	}
	vars = append(vars, fileVars...)
	pb.Variables = append(vars, pb.Variables...)
	pb.Plays = append(plays, pb.Plays...)
	if defaults != nil && !diags.HasErrors() {
		diags = append(diags, pb.applyDefaults(defaults, own)...)
	}
	return diags
}

// applyDefaults replaces the defaults of the imported variables that attr
// names; own are the playbook's own variables, which take theirs in their
// blocks.
func (pb *Playbook) applyDefaults(attr *hcl.Attribute, own map[string]bool) hcl.Diagnostics {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid defaults",
			Detail:  `defaults is an object of imported variable names and values, e.g. defaults = { service = "app" }.`,
			Subject: attr.Expr.Range().Ptr(),
		}}
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"path": cty.ObjectVal(map[string]cty.Value{"playbook": cty.StringVal(pb.absDir())})},
		Functions: functions,
	}
	var names []string
	for _, v := range pb.Variables {
		if !own[v.Name] {
			names = append(names, v.Name)
		}
	}
	sort.Strings(names)
	for _, kv := range pairs {
		name := hcl.ExprAsKeyword(kv.Key)
		if name == "" {
			var s string
			if d := decodeStatic(kv.Key, &s); !d.HasErrors() {
				name = s
			}
		}
		i := slices.IndexFunc(pb.Variables, func(v *Variable) bool { return v.Name == name })
		switch {
		case i < 0:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unknown imported variable " + quote(name),
				Detail:  fmt.Sprintf("defaults names the imported variables.%s Imported: %s.", didYouMean(name, names), strings.Join(names, ", ")),
				Subject: kv.Key.Range().Ptr(),
			})
			continue
		case own[name]:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Not an imported variable: " + quote(name),
				Detail:  fmt.Sprintf("The playbook declares %q itself (%s): give that block the default.", name, position(pb.Variables[i].DeclRange)),
				Subject: kv.Key.Range().Ptr(),
			})
			continue
		}
		val, d := kv.Value.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		v := *pb.Variables[i]
		v.Default = hcl.StaticExpr(val, kv.Value.Range())
		pb.Variables[i] = &v
	}
	return diags
}

// isPlaybook says whether an imported file is a playbook (it has a play)
// rather than a variables file.
func isPlaybook(f *hcl.File) bool {
	content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: blockPlay, LabelNames: []string{"name"}}}})
	return content != nil && len(content.Blocks) > 0
}

// absPath is path made absolute, or path itself when that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
