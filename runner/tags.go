package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Special tags, with Ansible's meaning: `always` runs unless skipped by name,
// `never` runs only when one of its other tags is asked for, `all` (the
// default) is every task not tagged never, `tagged` and `untagged` are what
// they say.
const (
	tagAlways   = "always"
	tagNever    = "never"
	tagAll      = "all"
	tagTagged   = "tagged"
	tagUntagged = "untagged"
)

// Selection is the -t / --skip-tags choice.
type Selection struct {
	Tags     []string
	SkipTags []string
}

// selects reports whether a task carrying tags (its own and inherited) runs.
func (s Selection) selects(tags []string) bool {
	has := func(t string) bool { return slices.Contains(tags, t) }
	for _, skip := range s.SkipTags {
		if has(skip) || (skip == tagTagged && len(tags) > 0) || (skip == tagUntagged && len(tags) == 0) || skip == tagAll {
			return false
		}
	}
	want := s.Tags
	if len(want) == 0 {
		want = []string{tagAll}
	}
	if has(tagAlways) {
		return true
	}
	for _, w := range want {
		switch {
		case w == tagAll && !has(tagNever):
			return true
		case w == tagTagged && len(tags) > 0 && !has(tagNever):
			return true
		case w == tagUntagged && len(tags) == 0:
			return true
		case w != tagNever && has(w):
			return true
		case w == tagNever && has(tagNever):
			return true
		}
	}
	return false
}

// splitTags turns repeated, comma-separated flag values into one list.
func splitTags(values []string) []string {
	var out []string
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// Tags lists every tag the playbook's tasks carry, inherited ones included.
func (pb *Playbook) Tags() []string {
	seen := map[string]bool{}
	pb.eachTask(func(t *TaskDecl, tags []string) {
		for _, tag := range tags {
			seen[tag] = true
		}
	})
	return sortedKeys(seen)
}

// checkSelection rejects a tag that no task carries, listing the known ones.
func (pb *Playbook) checkSelection(s Selection) hcl.Diagnostics {
	known := pb.Tags()
	special := []string{tagAll, tagAlways, tagNever, tagTagged, tagUntagged}
	var diags hcl.Diagnostics
	for _, t := range append(slices.Clone(s.Tags), s.SkipTags...) {
		if !slices.Contains(known, t) && !slices.Contains(special, t) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown tag " + quote(t),
				Detail:   fmt.Sprintf("No task in %s carries it.%s Known tags: %s.", pb.File, didYouMean(t, known), strings.Join(known, ", ")),
			})
		}
	}
	return diags
}

// eachTask visits every task of every play with its effective tags.
func (pb *Playbook) eachTask(fn func(t *TaskDecl, tags []string)) {
	for _, p := range pb.Plays {
		for _, name := range p.RoleNames {
			r := pb.Roles[name]
			if r == nil {
				continue
			}
			base := concatTags(p.Tags, r.Tags)
			// A role included from several places with the same tags is
			// walked once: 22 levels of a role including the next twice
			// are 2^21 paths but 22 (role, tags) pairs.
			walked := map[string]bool{}
			var walk func(steps []Step, inherited []string)
			walk = func(steps []Step, inherited []string) {
				for _, s := range steps {
					switch s := s.(type) {
					case *TaskDecl:
						fn(s, concatTags(inherited, s.Tags))
					case *Group:
						walk(s.Steps, concatTags(inherited, s.Tags))
						walk(s.Rescue, concatTags(inherited, s.Tags))
					case *Include:
						inc := pb.Roles[s.Role]
						tags := concatTags(inherited, inc.Tags)
						if key := tagsKey(s.Role, tags); !walked[key] {
							walked[key] = true
							walk(inc.Steps, tags)
						}
					}
				}
			}
			walk(r.Steps, base)
		}
	}
}

func concatTags(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for _, t := range append(slices.Clone(a), b...) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// tagsKey names a role reached with a set of inherited tags.
func tagsKey(role string, tags []string) string {
	sorted := slices.Clone(tags)
	slices.Sort(sorted)
	return role + "\x00" + strings.Join(sorted, "\x00")
}

// includeSelected is anySelected for an included role, remembered per
// (role, inherited tags): without it a role included twice by a role
// included twice... is walked once per path, exponentially.
func (ex *executor) includeSelected(role string, inherited []string) bool {
	key := tagsKey(role, inherited)
	ex.mu.Lock()
	sel, ok := ex.selected[key]
	ex.mu.Unlock()
	if ok {
		return sel
	}
	r := ex.pb.Roles[role]
	sel = ex.anySelected(r.Steps, concatTags(inherited, r.Tags))
	ex.mu.Lock()
	if ex.selected == nil {
		ex.selected = map[string]bool{}
	}
	ex.selected[key] = sel
	ex.mu.Unlock()
	return sel
}

// anySelected reports whether the tag selection runs any task in steps.
func (ex *executor) anySelected(steps []Step, inherited []string) bool {
	for _, s := range steps {
		switch s := s.(type) {
		case *TaskDecl:
			if ex.opts.Selection.selects(concatTags(inherited, s.Tags)) {
				return true
			}
		case *Group:
			if ex.anySelected(s.Steps, concatTags(inherited, s.Tags)) {
				return true
			}
		case *Include:
			if ex.includeSelected(s.Role, inherited) {
				return true
			}
		}
	}
	return false
}

// skipAll records every selected task in steps as skipped by a group's when.
func (ex *executor) skipAll(steps []Step, f frame) {
	for _, s := range steps {
		switch s := s.(type) {
		case *TaskDecl:
			if ex.opts.Selection.selects(concatTags(f.tags, s.Tags)) {
				r := ex.newResult(s, f)
				r.Status = StatusSkipped
				ex.finish(s, r, f)
			}
		case *Group:
			inner := f
			inner.tags = concatTags(f.tags, s.Tags)
			ex.skipAll(s.Steps, inner)
		case *Include:
			inner := f
			inner.tags = concatTags(f.tags, ex.pb.Roles[s.Role].Tags)
			ex.skipAll(ex.pb.Roles[s.Role].Steps, inner)
		}
	}
}
