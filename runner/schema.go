package runner

import (
	"github.com/hashicorp/hcl/v2"
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
	Attributes: []hcl.AttributeSchema{{Name: attrImport}, {Name: attrDefaults}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockVariable, LabelNames: []string{"name"}},
		{Type: blockLocals},
		{Type: blockPlay, LabelNames: []string{"name"}},
		{Type: blockRole, LabelNames: []string{"name"}},
		{Type: blockTaskDefaults},
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
			{Type: blockBlueGreen, LabelNames: []string{"name"}},
			{Type: blockTaskDefaults},
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

var includeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "vars"}}}
