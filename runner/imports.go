package runner

import (
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
)

// attrImport lists files of variable blocks that a playbook shares with
// other playbooks (the demo app's variables, for app.hcl, bluegreen.hcl and
// swarm.hcl), relative to the playbook: the declarations are written once
// instead of copied. As with Terraform's override files, a variable the
// playbook declares itself replaces the imported one of that name (a
// playbook's own default for project, say); two imported files may not
// declare the same variable.
//
//	import = ["demo.vars.hcl"]
const attrImport = "import"

// importSchema is an imported file: variable blocks only, so that a shared
// file cannot carry plays, roles or further imports.
var importSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: blockVariable, LabelNames: []string{"name"}}},
}

// importVariables reads the files attr names and adds their variables that
// the playbook does not declare itself; call it once the playbook's own
// variables are in pb.Variables.
func (pb *Playbook) importVariables(attr *hcl.Attribute) hcl.Diagnostics {
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
	imported := map[string]*Variable{}
	var added []*Variable
	for i, name := range files {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(pb.Dir, path)
		}
		f, d := pb.parseFile(path, "imported file")
		for _, diag := range d {
			if diag.Subject == nil && i < len(ranges) {
				diag.Subject = ranges[i].Ptr()
			}
		}
		diags = append(diags, d...)
		if d.HasErrors() {
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
			switch prev := imported[v.Name]; {
			case prev != nil:
				diags = append(diags, duplicate("variable", quote(v.Name), prev.DeclRange, b.DefRange))
			default:
				imported[v.Name] = v
				added = append(added, v)
			}
		}
	}
	pb.Variables = append(added, pb.Variables...)
	return diags
}
