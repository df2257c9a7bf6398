package tasks

import (
	"context"
	"strings"
)

// ComposeOutdated tells which services must be recreated to match the
// compose file, and changes nothing (never changed): a service is outdated
// when it has no running container, when its container's config hash
// differs from the file's (image tag, environment, command... changed), or
// when its image tag now names another image (rebuilt). It answers as typed
// outputs (NAME.outputs.KEY):
//
//	outdated  the outdated services' names, in order ([] when none)
//	reasons   for each of them, "SERVICE outdated: why"
//
// Check and Apply do the same, so `when` works in --check runs too.
//
//	task "compose_outdated" "is app_1 outdated" {
//	  file     = "../compose.yaml"
//	  project  = var.project
//	  service  = "app_1"          # or services = ["app_1", "app_2"]
//	  register = "app_1_outdated"
//	}
//	# later: when = length(app_1_outdated.outputs.outdated) > 0
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
	outdated, reasons, current := []string{}, []string{}, []string{}
	for _, s := range states {
		if s.outdated {
			outdated = append(outdated, s.name)
			reasons = append(reasons, s.name+" outdated: "+s.why)
		} else {
			current = append(current, s.name+" "+s.why)
		}
	}
	msg := strings.Join(current, "; ")
	if len(reasons) > 0 {
		msg = strings.Join(reasons, "; ")
	}
	return Result{Msg: msg, Outputs: map[string]any{"outdated": outdated, "reasons": reasons}}, nil
}
