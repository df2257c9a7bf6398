package runner

import (
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zdplay/zdplay/internal/rollout"
	"github.com/zdplay/zdplay/tasks"
)

type executor struct {
	mu         sync.Mutex // guards registered, recap and notified: parallel blocks
	pb         *Playbook
	opts       Options
	printer    Printer
	vars       map[string]cty.Value
	locals     map[string]cty.Value
	registered map[string]cty.Value
	shared     *tasks.Shared
	recap      *Recap
	secrets    *redactor       // values of sensitive variables, never printed
	selected   map[string]bool // includeSelected's answers, per role and tags
	data       *templateData   // Env.Vars, converted once per locals map
}

// frame is what a step sees: its inherited tags and, inside a loop, each.
type frame struct {
	play, role string
	tags       []string
	locals     map[string]cty.Value
	each       cty.Value // cty.NilVal outside a loop
	// notified collects the handlers to run at the end of the role (an
	// included role's own included); handlers are those of the role whose
	// steps these are, that a notify names.
	notified *notifications
	handlers []*TaskDecl
	// own holds what the tasks of one item of a parallel block register, so
	// that items running at once do not see each other's results.
	own map[string]cty.Value
	// failure is what a rescue sees of the failure it handles (see
	// itemFailures.value); cty.NilVal outside a rescue.
	failure cty.Value
	// phase is KIND.* in the phases of a construct's block (rollout.*,
	// bluegreen.*), and observed receives what a compose_replicas task
	// there saw; zero and nil elsewhere.
	phase    phaseValue
	observed *rollout.Observation
	// label names the item of a task outside a loop in the recap (a
	// rollout's batch); each's label wins.
	label string
	// module is the module whose steps these are, params its param.*
	// (locals then holds its own vars); nil in the playbook's scope.
	module *Role
	params map[string]cty.Value
	// roleDir is path.role: the directory of the role file the steps are in.
	roleDir string
}

func prepare(pb *Playbook, opts Options) (*executor, hcl.Diagnostics) {
	if opts.Printer == nil {
		opts.Printer = discardPrinter{}
	}
	opts.Selection.Tags = splitTags(opts.Selection.Tags)
	opts.Selection.SkipTags = splitTags(opts.Selection.SkipTags)
	diags := pb.checkSelection(opts.Selection)
	vars, d := pb.resolveVariables(opts.ExtraVars)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	locals, d := pb.evalLocals(vars)
	if d.HasErrors() {
		return nil, d
	}
	ex := &executor{
		pb: pb, opts: opts, printer: redactingPrinter{opts.Printer, pb.secrets},
		vars: vars, locals: locals, registered: map[string]cty.Value{},
		shared: &tasks.Shared{}, recap: &Recap{started: time.Now(), Check: opts.Check},
		secrets: pb.secrets,
		data:    &templateData{vars: vars},
	}
	// A task that never runs (a rescue not entered, a role not selected)
	// reads as skipped, so `when = x.skipped` needs no guard.
	notRun := (&TaskResult{Status: StatusSkipped}).registerValue()
	for _, r := range pb.Roles {
		walkTasks(r.Steps, func(t *TaskDecl) {
			if t.Register != "" {
				ex.registered[t.Register] = notRun
			}
		})
	}
	return ex, ex.preflight()
}
