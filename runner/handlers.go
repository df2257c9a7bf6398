package runner

// notifications are the handlers a role's tasks notified, to run at the
// role's end or at a flush_handlers: the role's own and those of the roles
// it included (an included role's tasks notify its handlers, never the
// includer's of the same name). The executor's mu guards them.
type notifications struct {
	pending []notified
	roles   []*TaskDecl // the first handler of each role seen, in order
}

type notified struct {
	handler    *TaskDecl
	role, decl int   // the role's rank (0: the first to notify) and the handler's place in it
	frame      frame // where it was first notified: its locals, tags and each
}

// notify marks the handler called name of the role whose steps f runs,
// once.
func (n *notifications) notify(f frame, name string) {
	for i, h := range f.handlers {
		if h.Name != name {
			continue
		}
		for _, p := range n.pending {
			if p.handler == h {
				return
			}
		}
		n.pending = append(n.pending, notified{handler: h, role: n.rank(f.handlers[0]), decl: i, frame: f})
		return
	}
}

func (n *notifications) rank(first *TaskDecl) int {
	for i, r := range n.roles {
		if r == first {
			return i
		}
	}
	n.roles = append(n.roles, first)
	return len(n.roles) - 1
}

// next takes the first pending handler: role by role, in the order they
// first notified one, each role's in the order it declares them.
func (n *notifications) next() (*TaskDecl, frame, bool) {
	if n == nil || len(n.pending) == 0 {
		return nil, frame{}, false
	}
	best := 0
	for i, p := range n.pending {
		if b := n.pending[best]; p.role < b.role || (p.role == b.role && p.decl < b.decl) {
			best = i
		}
	}
	p := n.pending[best]
	n.pending = append(n.pending[:best], n.pending[best+1:]...)
	return p.handler, p.frame, true
}
