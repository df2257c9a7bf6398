package tasks

import (
	"context"
	"fmt"
	"strings"
)

// ComposeCheck validates, changing nothing, what the other compose tasks
// will need: the Docker engine answers, the file loads as a compose project
// (YAML syntax, compose schema, variables), and every image its services run
// is present locally. Run it before draining anything so that bad input
// fails before any replica is touched. Never changed; Check and Apply do the
// same.
//
//	task "compose_check" "validate the new release" {
//	  file    = "../compose.yaml"
//	  project = var.project
//	}
type ComposeCheck struct {
	File    string `hcl:"file"`
	Project string `hcl:"project"`
}

var _ Task = (*ComposeCheck)(nil)

func init() { Register("compose_check", func() Task { return &ComposeCheck{} }) }

// Check validates.
func (t *ComposeCheck) Check(ctx context.Context, env *Env) (Result, error) { return t.Apply(ctx, env) }

// Apply validates.
func (t *ComposeCheck) Apply(ctx context.Context, env *Env) (Result, error) {
	c, p, err := loadCompose(ctx, env, "compose_check", t.File, t.Project)
	if err != nil {
		return Result{}, err
	}
	if err := c.CheckImages(ctx, p); err != nil {
		return Result{}, fmt.Errorf("compose_check: %w", err)
	}
	names := p.ServiceNames()
	return Result{Msg: fmt.Sprintf("%s: %d services (%s), images present, Docker API %s",
		t.File, len(names), strings.Join(names, ", "), c.APIVersion())}, nil
}
