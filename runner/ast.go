package runner

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Variable is a declared input.
type Variable struct {
	Name        string
	Description string
	Sensitive   bool
	Type        typeSpec
	Default     hcl.Expression // nil when the variable is required
	DeclRange   hcl.Range
}

// Play runs roles in order.
type Play struct {
	Name      string
	RoleNames []string
	RoleRange []hcl.Range
	Tags      []string
	Vars      hcl.Expression
	DeclRange hcl.Range
}

// Role is a named list of steps with its handlers.
type Role struct {
	Name     string
	Tags     []string
	Vars     hcl.Expression
	Steps    []Step
	Handlers []*TaskDecl
	Params   []*Param // a module's interface: what an include gives it
	Dir      string   // the role file's directory (the playbook's for a role block): path.role
	// registers are the names its own tasks register: in a module, the
	// only results its expressions see.
	registers map[string]bool
	DeclRange hcl.Range
}

// IsModule reports whether the role declares params: then it has a scope
// of its own (param.*, its vars as local.*, path.*) and sees nothing of
// where it is included.
func (r *Role) IsModule() bool { return len(r.Params) > 0 }

// Step is a *TaskDecl, a *Group or an *Include.
type Step interface{ stepRange() hcl.Range }

// Include runs the steps of another role here, as Ansible's include_role:
// its vars become locals of those steps, which inherit the tags and the
// each of where they are included. It is how a playbook says once what it
// does in several places (replace a batch of replicas: in an upgrade, in its
// rollback, in the rollback role).
type Include struct {
	Role      string
	Vars      hcl.Expression
	DeclRange hcl.Range
}

func (i *Include) stepRange() hcl.Range { return i.DeclRange }

// Group is a `block` (optionally looped, its items in order or, with
// parallel = true, all at once) or a `serial` (one item at a time, in order,
// with an optional pause between two); tags and when are inherited by what is
// inside. A rescue list runs when a step inside fails, as Ansible's
// block/rescue.
type Group struct {
	Kind     string // blockBlock or blockSerial
	Name     string
	Tags     []string
	ForEach  hcl.Expression
	When     hcl.Expression
	Parallel hcl.Expression // a block's items all at once instead of in order
	Pause    hcl.Expression // a serial's wait between two items
	// MaxFailureRatio is the share of a serial's items that may fail while
	// its loop goes on (Swarm's update max_failure_ratio); 0 by default.
	MaxFailureRatio hcl.Expression
	Steps           []Step
	Rescue          []Step
	// Phased is set on a construct's block (a rollout, a bluegreen): its
	// attributes and phases; Steps then lists every phase's steps.
	Phased    *Phased
	DeclRange hcl.Range
}

// TaskDecl is one task block: the common attributes decoded here, the rest
// (Body) decoded by its kind at run time, when each.* and registered results
// are known.
type TaskDecl struct {
	Kind         string
	Name         string
	Tags         []string
	When         hcl.Expression
	Register     string
	Notify       []string
	IgnoreErrors hcl.Expression
	Retries      hcl.Expression
	Delay        hcl.Expression
	Timeout      hcl.Expression
	Body         hcl.Body
	BaseDir      string
	Handler      bool
	DeclRange    hcl.Range
}

func (t *TaskDecl) stepRange() hcl.Range { return t.DeclRange }

func (g *Group) stepRange() hcl.Range { return g.DeclRange }

// defaultTaskTimeout bounds a task that sets no timeout of its own.
const defaultTaskTimeout = 10 * time.Minute
