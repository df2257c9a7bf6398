package runner

import (
	"fmt"
	"io"
	"strings"
)

// ListTasks prints what a selection would run, as a tree: plays, roles,
// groups (with their loops, unexpanded) and tasks with their effective tags.
func (pb *Playbook) ListTasks(w io.Writer, sel Selection) {
	sel.Tags, sel.SkipTags = splitTags(sel.Tags), splitTags(sel.SkipTags)
	ex := &executor{pb: pb, opts: Options{Selection: sel}}
	for _, p := range pb.Plays {
		fmt.Fprintf(w, "play %q\n", p.Name)
		for _, name := range p.RoleNames {
			r := pb.Roles[name]
			tags := concatTags(p.Tags, r.Tags)
			if !ex.anySelected(r.Steps, tags) {
				continue
			}
			fmt.Fprintf(w, "  role %q\n", r.Name)
			listSteps(w, ex, r.Steps, tags, "    ")
			for _, h := range r.Handlers {
				fmt.Fprintf(w, "    handler %s %q\n", h.Kind, h.Name)
			}
		}
	}
}

func listSteps(w io.Writer, ex *executor, steps []Step, inherited []string, indent string) {
	for _, s := range steps {
		switch s := s.(type) {
		case *TaskDecl:
			tags := concatTags(inherited, s.Tags)
			if ex.opts.Selection.selects(tags) {
				fmt.Fprintf(w, "%s%s %q  [%s]\n", indent, s.Kind, s.Name, strings.Join(tags, ", "))
			}
		case *Include:
			r := ex.pb.Roles[s.Role]
			tags := concatTags(inherited, r.Tags)
			if ex.anySelected(r.Steps, tags) {
				fmt.Fprintf(w, "%sinclude %q\n", indent, s.Role)
				listSteps(w, ex, r.Steps, tags, indent+"  ")
			}
		case *Group:
			tags := concatTags(inherited, s.Tags)
			if !ex.anySelected(s.Steps, tags) {
				continue
			}
			if s.Phased != nil {
				fmt.Fprintf(w, "%s%s %q (its phases run when the engine decides)\n", indent, s.Kind, s.Name)
				for _, p := range s.Phased.construct.phases {
					if steps := s.Phased.Phases[p]; len(steps) > 0 {
						fmt.Fprintf(w, "%s  %s\n", indent, p)
						listSteps(w, ex, steps, tags, indent+"    ")
					}
				}
				continue
			}
			loop := ""
			switch {
			case s.Parallel != nil:
				loop = " (for each item, all at once)"
			case s.ForEach != nil:
				loop = " (for each item, one at a time)"
			}
			fmt.Fprintf(w, "%s%s %q%s\n", indent, s.Kind, s.Name, loop)
			listSteps(w, ex, s.Steps, tags, indent+"  ")
			if len(s.Rescue) > 0 {
				fmt.Fprintf(w, "%s  rescue\n", indent)
				listSteps(w, ex, s.Rescue, tags, indent+"    ")
			}
		}
	}
}
