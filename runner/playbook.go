package runner

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Block kinds of the playbook language, as schema constants.
const (
	blockVariable = "variable"
	blockLocals   = "locals"
	blockPlay     = "play"
	blockRole     = "role"
	blockTask     = "task"
	blockHandler  = "handler"
	blockBlock    = "block"
	blockSerial   = "serial"
	blockRescue   = "rescue"
	blockInclude  = "include"
)

// flushHandlers is the one task kind the runner handles itself: it runs the
// notified handlers of the current role now instead of at the role's end.
const flushHandlers = "flush_handlers"

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockVariable, LabelNames: []string{"name"}},
		{Type: blockLocals},
		{Type: blockPlay, LabelNames: []string{"name"}},
		{Type: blockRole, LabelNames: []string{"name"}},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
	},
}

var playSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "roles", Required: true}, {Name: "tags"}, {Name: "vars"}, {Name: "hosts"},
	},
}

// stepsSchema is the body of a role, and of a block, serial or rescue inside it.
func stepsSchema(extraAttrs ...string) *hcl.BodySchema {
	s := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "tags"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: blockTask, LabelNames: []string{"kind", "name"}},
			{Type: blockBlock, LabelNames: []string{"name"}},
			{Type: blockSerial, LabelNames: []string{"name"}},
			{Type: blockInclude, LabelNames: []string{"role"}},
			{Type: blockRollout, LabelNames: []string{"name"}},
		},
	}
	for _, a := range extraAttrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a})
	}
	return s
}

var (
	roleSchema   = withHandlers(stepsSchema("vars"))
	groupSchema  = withRescue(stepsSchema("for_each", "when", "parallel", "pause", "max_failure_ratio"))
	rescueSchema = stepsSchema()
)

func withHandlers(s *hcl.BodySchema) *hcl.BodySchema {
	s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: blockHandler, LabelNames: []string{"kind", "name"}},
		hcl.BlockHeaderSchema{Type: blockParam, LabelNames: []string{"name"}})
	return s
}

func withRescue(s *hcl.BodySchema) *hcl.BodySchema {
	s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: blockRescue})
	return s
}

// commonTaskSchema lists the attributes every task has; the rest of a task
// body belongs to its kind.
var commonTaskSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "tags"}, {Name: "when"}, {Name: "register"}, {Name: "notify"},
		{Name: "ignore_errors"}, {Name: "retries"}, {Name: "delay"}, {Name: "timeout"},
	},
}

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
	// secrets hides the sensitive values of the last resolveVariables;
	// rawSecrets is what was given for them (-e text, var file source).
	secrets    *redactor
	rawSecrets []string
}

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

var includeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "vars"}}}

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
	// Rollout is set on a rollout block (Kind blockRollout): its
	// attributes and phases; Steps then lists every phase's steps.
	Rollout   *Rollout
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
func (g *Group) stepRange() hcl.Range    { return g.DeclRange }

// defaultTaskTimeout bounds a task that sets no timeout of its own.
const defaultTaskTimeout = 10 * time.Minute

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
	content, d := f.Body.Content(fileSchema)
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
			r, d := decodeRole(name, b.Body, pb.Dir, b.DefRange)
			diags = append(diags, d...)
			pb.Roles[name] = r
		}
	}
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
		diags = append(diags, pb.validate()...)
		diags = append(diags, pb.checkParams()...)
	}
	return pb, diags
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
	r, d := decodeRole(name, f.Body, filepath.Dir(path), hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos})
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

func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	content, diags := b.Body.Content(variableSchema)
	v := &Variable{Name: b.Labels[0], DeclRange: b.DefRange, Type: anyType}
	if a, ok := content.Attributes["type"]; ok {
		t, d := parseType(a.Expr)
		diags = append(diags, d...)
		v.Type = t
	}
	if a, ok := content.Attributes["default"]; ok {
		v.Default = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeStatic(a.Expr, &v.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, decodeStatic(a.Expr, &v.Sensitive)...)
	}
	return v, diags
}

func decodePlay(b *hcl.Block) (*Play, hcl.Diagnostics) {
	content, diags := b.Body.Content(playSchema)
	p := &Play{Name: b.Labels[0], DeclRange: b.DefRange}
	if a, ok := content.Attributes["roles"]; ok {
		names, ranges, d := staticStrings(a.Expr)
		diags = append(diags, d...)
		p.RoleNames, p.RoleRange = names, ranges
	}
	if a, ok := content.Attributes["tags"]; ok {
		tags, d := decodeTags(a.Expr)
		p.Tags = tags
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["vars"]; ok {
		p.Vars = a.Expr
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

func decodeRole(name string, body hcl.Body, baseDir string, declRange hcl.Range) (*Role, hcl.Diagnostics) {
	content, diags := body.Content(roleSchema)
	dir, err := filepath.Abs(baseDir)
	if err != nil {
		dir = baseDir
	}
	r := &Role{Name: name, Dir: dir, DeclRange: declRange, registers: map[string]bool{}}
	if a, ok := content.Attributes["tags"]; ok {
		tags, d := decodeTags(a.Expr)
		r.Tags = tags
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["vars"]; ok {
		r.Vars = a.Expr
	}
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
				r.Handlers = append(r.Handlers, h)
			}
		}
	}
	steps, d := decodeSteps(content.Blocks, baseDir)
	r.Steps = steps
	walkTasks(append(slices.Clone(r.Steps), handlerSteps(r.Handlers)...), func(t *TaskDecl) {
		if t.Register != "" {
			r.registers[t.Register] = true
		}
	})
	return r, append(diags, d...)
}

func handlerSteps(hs []*TaskDecl) []Step {
	out := make([]Step, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

func decodeSteps(blocks hcl.Blocks, baseDir string) ([]Step, hcl.Diagnostics) {
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
				steps = append(steps, t)
			}
		case blockBlock, blockSerial:
			g, d := decodeGroup(b, baseDir)
			diags = append(diags, d...)
			steps = append(steps, g)
		case blockRollout:
			g, d := decodeRollout(b, baseDir)
			diags = append(diags, d...)
			steps = append(steps, g)
		case blockInclude:
			content, d := b.Body.Content(includeSchema)
			diags = append(diags, d...)
			inc := &Include{Role: b.Labels[0], DeclRange: b.DefRange}
			if a, ok := content.Attributes["vars"]; ok {
				inc.Vars = a.Expr
			}
			steps = append(steps, inc)
		}
	}
	return steps, diags
}

func decodeGroup(b *hcl.Block, baseDir string) (*Group, hcl.Diagnostics) {
	content, diags := b.Body.Content(groupSchema)
	g := &Group{Kind: b.Type, Name: b.Labels[0], DeclRange: b.DefRange}
	if a, ok := content.Attributes["tags"]; ok {
		tags, d := decodeTags(a.Expr)
		g.Tags = tags
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["for_each"]; ok {
		g.ForEach = a.Expr
	}
	if a, ok := content.Attributes["when"]; ok {
		g.When = a.Expr
	}
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
	if a, ok := content.Attributes["pause"]; ok {
		g.Pause = a.Expr
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
	steps, d := decodeSteps(content.Blocks, baseDir)
	diags = append(diags, d...)
	g.Steps = steps
	for _, rb := range content.Blocks.OfType(blockRescue) {
		rc, d := rb.Body.Content(rescueSchema)
		diags = append(diags, d...)
		steps, d := decodeSteps(rc.Blocks, baseDir)
		diags = append(diags, d...)
		g.Rescue = append(g.Rescue, steps...)
	}
	return g, diags
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
