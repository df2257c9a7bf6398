package tasks

import (
	"context"
	"fmt"
	"strings"
)

// ComposeRun runs a service of the compose file once, to completion: a
// migration, in a container of the new release with the service's
// environment, networks, volumes and dependencies (they must be up). It
// fails when the command exits non-zero, with its exit code and last log
// lines, and the container is removed either way. Changed when it ran;
// Check says it would run.
//
//	task "compose_run" "migrate" {
//	  file    = local.stack
//	  project = local.project
//	  service = "web_migrate"   # compose_render's migration service
//	  when    = length(var.migrate) > 0
//	}
type ComposeRun struct {
	File    string `hcl:"file"`
	Project string `hcl:"project"`
	Service string `hcl:"service"`
}

var _ Task = (*ComposeRun)(nil)

func init() { Register("compose_run", func() Task { return &ComposeRun{} }) }

// Check says what Apply would run.
func (t *ComposeRun) Check(ctx context.Context, env *Env) (Result, error) {
	_, p, names, err := loadServices(ctx, env, "compose_run", t.File, t.Project, t.Service, nil)
	if err != nil {
		return Result{}, err
	}
	return Result{Changed: true, Msg: fmt.Sprintf("would run %s once: %s", names[0], strings.Join(p.Services[names[0]].Command, " "))}, nil
}

// Apply runs it.
func (t *ComposeRun) Apply(ctx context.Context, env *Env) (Result, error) {
	c, p, names, err := loadServices(ctx, env, "compose_run", t.File, t.Project, t.Service, nil)
	if err != nil {
		return Result{}, err
	}
	svc := p.Services[names[0]]
	grace := 10
	if svc.StopGracePeriod != nil {
		grace = int(*svc.StopGracePeriod) / 1e9
	}
	code, logs, err := c.RunOnce(composeProgress(ctx, env), p, names[0], grace)
	if err != nil {
		return Result{}, fmt.Errorf("compose_run: %s: %w", names[0], err)
	}
	res := Result{Changed: true, RC: code, Stdout: logs, Msg: fmt.Sprintf("ran %s (%s): exit %d", names[0], strings.Join(svc.Command, " "), code)}
	if code != 0 {
		return res, fmt.Errorf("compose_run: %s (%s) exited with code %d; nothing was drained; its last lines:\n%s", names[0], strings.Join(svc.Command, " "), code, indentLines(logs))
	}
	return res, nil
}

func indentLines(s string) string {
	if s == "" {
		return "  (no output)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
