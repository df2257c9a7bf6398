package runner

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// loadRoleFiles loads, for every role a play names or a step includes that
// the playbook does not define, the file roles/NAME.hcl. Its body is a role
// body.
func (pb *Playbook) loadRoleFiles() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range pb.Plays {
		for i, name := range p.RoleNames {
			diags = append(diags, pb.loadRole(name, p.RoleRange[i])...)
		}
	}
	// Roles included by loaded roles, until none is new.
	for loaded := 0; loaded != len(pb.Roles); {
		loaded = len(pb.Roles)
		for _, name := range sortedKeys(pb.Roles) {
			for _, inc := range includesOf(pb.Roles[name].Steps) {
				diags = append(diags, pb.loadRole(inc.Role, inc.DeclRange)...)
			}
		}
	}
	if !diags.HasErrors() {
		diags = append(diags, pb.checkIncludeCycles()...)
	}
	return diags
}

func (pb *Playbook) loadRole(name string, subject hcl.Range) hcl.Diagnostics {
	if _, ok := pb.Roles[name]; ok {
		return nil
	}
	if d := checkRoleName(name, subject); d != nil {
		return hcl.Diagnostics{d}
	}
	path, err := pb.roleFile(name)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot load role " + quote(name), Detail: err.Error() + ".", Subject: subject.Ptr()}}
	}
	if path == "" {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown role " + quote(name),
			Detail: fmt.Sprintf("No role block by that name in the playbook and no file %s.hcl in %s.%s Add a directory with --roles-path or ZDPLAY_ROLES_PATH.",
				name, strings.Join(pb.roleSources(), ", "), didYouMean(name, pb.roleNames())),
			Subject: subject.Ptr(),
		}}
	}
	f, diags := pb.parseFile(path, "role file")
	if diags.HasErrors() {
		return diags
	}
	r, d := decodeRole(name, f.Body, filepath.Dir(path), hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}, nil)
	pb.Roles[name] = r
	return append(diags, d...)
}

// includesOf lists the includes in steps, nested ones too.
func includesOf(steps []Step) []*Include {
	var out []*Include
	for _, s := range steps {
		switch s := s.(type) {
		case *Include:
			out = append(out, s)
		case *Group:
			out = append(out, includesOf(s.Steps)...)
			out = append(out, includesOf(s.Rescue)...)
		}
	}
	return out
}

// includedRoles names the roles some step includes.
func (pb *Playbook) includedRoles() map[string]bool {
	included := map[string]bool{}
	for _, r := range pb.Roles {
		for _, inc := range includesOf(r.Steps) {
			included[inc.Role] = true
		}
	}
	return included
}

// checkIncludeCycles rejects a role that includes itself, directly or not.
// A depth-first search that visits every role once (a role done is not
// walked again, however many includes reach it), so it is linear in the
// number of includes.
func (pb *Playbook) checkIncludeCycles() hcl.Diagnostics {
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string) *hcl.Diagnostic
	visit = func(name string) *hcl.Diagnostic {
		state[name] = onPath
		path = append(path, name)
		for _, inc := range includesOf(pb.Roles[name].Steps) {
			switch state[inc.Role] {
			case onPath:
				cycle := append(slices.Clone(path[slices.Index(path, inc.Role):]), inc.Role)
				return &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Include cycle",
					Detail:   "Roles include each other in a loop: " + strings.Join(cycle, " -> ") + ".",
					Subject:  inc.DeclRange.Ptr(),
				}
			case unvisited:
				if d := visit(inc.Role); d != nil {
					return d
				}
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	for _, name := range sortedKeys(pb.Roles) {
		if state[name] == unvisited {
			if d := visit(name); d != nil {
				return hcl.Diagnostics{d}
			}
		}
	}
	return nil
}
