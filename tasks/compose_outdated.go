package tasks

import (
	"context"
	"strings"
)

// ComposeOutdated tells whether a service must be recreated to match the
// compose file, and changes nothing: Changed is true when the service has no
// running container, when its container's config hash differs from the
// file's (image tag, environment, command... changed), or when its image tag
// now names another image (rebuilt). Msg says which. Check and Apply do the
// same, so `when` works in --check runs too.
//
//	task "compose_outdated" "is app_1 outdated" {
//	  file     = "../compose.yaml"
//	  project  = var.project
//	  service  = "app_1"          # or services = ["app_1", "app_2"]: changed
//	  register = "app_1_outdated" # when any of them is outdated
//	}
//	# later: when = app_1_outdated.changed
type ComposeOutdated struct {
	File     string   `hcl:"file"`
	Project  string   `hcl:"project"`
	Service  string   `hcl:"service,optional"`
	Services []string `hcl:"services,optional"`
}

var _ Task = (*ComposeOutdated)(nil)

func init() { Register("compose_outdated", func() Task { return &ComposeOutdated{} }) }

// Check is Apply: it only reads.
func (t *ComposeOutdated) Check(ctx context.Context, env *Env) (Result, error) {
	return t.Apply(ctx, env)
}

// names is service, or services: exactly one of them.
// Apply reports whether any of the services is outdated.
func (t *ComposeOutdated) Apply(ctx context.Context, env *Env) (Result, error) {
	states, err := outdatedStates(ctx, env, "compose_outdated", t.File, t.Project, t.Service, t.Services)
	if err != nil {
		return Result{}, err
	}
	var outdated, current []string
	for _, s := range states {
		if s.outdated {
			outdated = append(outdated, s.name+" outdated: "+s.why)
		} else {
			current = append(current, s.name+" "+s.why)
		}
	}
	if len(outdated) > 0 {
		return Result{Changed: true, Msg: strings.Join(outdated, "; ")}, nil
	}
	return Result{Msg: strings.Join(current, "; ")}, nil
}
