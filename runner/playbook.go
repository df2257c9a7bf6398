package runner

import (
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Playbook is a loaded, validated playbook: its static structure, with the
// expressions that depend on run-time values kept for the executor.
type Playbook struct {
	File      string
	Dir       string
	Variables []*Variable
	Locals    []*hcl.Attribute
	Plays     []*Play
	Roles     map[string]*Role

	parser *hclparse.Parser
	abs    string // Dir, absolute: path.playbook
	opts   LoadOptions
	// shippedDir is where the shipped roles were extracted, once one is used.
	shippedDir string
	// importDirs are the directories of the playbooks it imports, whose
	// roles/ are searched after its own.
	importDirs []string
	// secrets hides the sensitive values of the last resolveVariables;
	// rawSecrets is what was given for them (-e text, var file source).
	secrets    *redactor
	rawSecrets []string
}

// Load parses a playbook and the roles it uses (inline, or roles/NAME.hcl
// beside it or beside its directory), checking everything that can be
// checked before a run.
func Load(file string) (*Playbook, hcl.Diagnostics) {
	return LoadWith(file, LoadOptions{})
}

// LoadWith is Load that also finds roles where opts says.
func LoadWith(file string, opts LoadOptions) (*Playbook, hcl.Diagnostics) {
	pb := &Playbook{File: file, Dir: filepath.Dir(file), Roles: map[string]*Role{}, parser: hclparse.NewParser(), opts: opts}
	pb.absDir()
	f, diags := pb.parse(file)
	if diags.HasErrors() {
		return pb, diags
	}
	diags = append(diags, pb.decode(f, []string{absPath(file)})...)
	if len(pb.Plays) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No play",
			Detail:   `A playbook runs its plays; add one, e.g. play "app" { roles = ["provision"] }.`,
			Subject:  &hcl.Range{Filename: file, Start: hcl.InitialPos, End: hcl.InitialPos},
		})
	}
	diags = append(diags, pb.loadRoleFiles()...)
	if !diags.HasErrors() {
		diags = append(diags, pb.checkReferences()...)
		diags = append(diags, pb.checkParams()...)
	}
	return pb, distinctDiags(diags) // a task default is checked in every task that takes it
}

// decode reads a playbook file's variables, locals, plays, roles and
// imports into pb; chain is the files being imported, this one last, to
// refuse a cycle.
func (pb *Playbook) decode(f *hcl.File, chain []string) hcl.Diagnostics {
	content, diags := f.Body.Content(fileSchema)
	defs, own, d := taskDefaults(nil).within(content.Blocks) // for the role blocks here
	diags = append(diags, d...)
	for _, b := range content.Blocks {
		switch b.Type {
		case blockVariable:
			v, d := decodeVariable(b)
			diags = append(diags, d...)
			if v != nil {
				if prev := pb.variable(v.Name); prev != nil {
					diags = append(diags, duplicate("variable", quote(v.Name), prev.DeclRange, b.DefRange))
					continue
				}
				pb.Variables = append(pb.Variables, v)
			}
		case blockLocals:
			attrs, d := b.Body.JustAttributes()
			diags = append(diags, d...)
			for _, a := range sortedAttrs(attrs) {
				if prev := pb.local(a.Name); prev != nil {
					diags = append(diags, duplicate("local", quote(a.Name), prev.NameRange, a.NameRange))
					continue
				}
				pb.Locals = append(pb.Locals, a)
			}
		case blockPlay:
			p, d := decodePlay(b)
			diags = append(diags, d...)
			pb.Plays = append(pb.Plays, p)
		case blockRole:
			name := b.Labels[0]
			if d := checkRoleName(name, b.LabelRanges[0]); d != nil {
				diags = append(diags, d)
				continue
			}
			if prev, ok := pb.Roles[name]; ok {
				diags = append(diags, duplicate("role", quote(name), prev.DeclRange, b.DefRange))
				continue
			}
			r, d := decodeRole(name, b.Body, pb.Dir, b.DefRange, defs)
			diags = append(diags, d...)
			pb.Roles[name] = r
		}
	}
	if a, ok := content.Attributes[attrImport]; ok {
		diags = append(diags, pb.imports(a, content.Attributes[attrDefaults], chain)...)
	} else if a, ok := content.Attributes[attrDefaults]; ok {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Defaults without import",
			Detail:  "defaults sets the defaults of imported variables; a variable the playbook declares itself takes its default in its own block.",
			Subject: a.NameRange.Ptr(),
		})
	}
	return append(diags, own.unused()...)
}

// Files returns the parsed sources, for printing diagnostics with snippets.
func (pb *Playbook) Files() map[string]*hcl.File {
	if pb == nil || pb.parser == nil {
		return nil
	}
	return pb.parser.Files()
}

func (pb *Playbook) parse(file string) (*hcl.File, hcl.Diagnostics) {
	return pb.parseFile(file, "playbook")
}

func (pb *Playbook) local(name string) *hcl.Attribute {
	for _, a := range pb.Locals {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func (pb *Playbook) variable(name string) *Variable {
	for _, v := range pb.Variables {
		if v.Name == name {
			return v
		}
	}
	return nil
}
