package tasks

import (
	"context"
	"fmt"
	"strings"
)

// ComposeExec runs a command in the running container of a service (like
// `docker compose exec -T SERVICE command...`, no shell: write
// ["sh", "-c", "..."] for one). Result.RC, Stdout and Stderr are filled and
// it fails when the command exits non-zero. Like Ansible's command it
// reports Changed=true whenever it ran; Check does not run it (changed=false,
// Msg says it would).
//
//	task "compose_exec" "flush the cache" {
//	  file     = "../compose.yaml"
//	  project  = var.project
//	  service  = "db"
//	  command  = ["redis-cli", "FLUSHALL"]
//	  register = "flush"
//	}
type ComposeExec struct {
	File    string   `hcl:"file"`
	Project string   `hcl:"project"`
	Service string   `hcl:"service"`
	Command []string `hcl:"command"`
}

var _ Task = (*ComposeExec)(nil)
var _ Validator = (*ComposeExec)(nil)

func init() { Register("compose_exec", func() Task { return &ComposeExec{} }) }

// Validate checks the attributes before the run starts.
func (t *ComposeExec) Validate(*Env) error { return t.validate() }

func (t *ComposeExec) validate() error {
	if err := composeRequire("compose_exec", "service", t.Service); err != nil {
		return err
	}
	if len(t.Command) == 0 {
		return fmt.Errorf("compose_exec: command is empty: give the program and its arguments, e.g. [\"nginx\", \"-t\"]")
	}
	return nil
}

// Check says what Apply would run, without running it.
func (t *ComposeExec) Check(ctx context.Context, env *Env) (Result, error) {
	if err := t.validate(); err != nil {
		return Result{}, err
	}
	if _, _, err := loadService(ctx, env, "compose_exec", t.File, t.Project, t.Service); err != nil {
		return Result{}, err
	}
	return Result{Msg: fmt.Sprintf("would run %q in %s (not run in check mode)", strings.Join(t.Command, " "), t.Service)}, nil
}

// Apply runs the command.
func (t *ComposeExec) Apply(ctx context.Context, env *Env) (Result, error) {
	if err := t.validate(); err != nil {
		return Result{}, err
	}
	c, p, err := loadService(ctx, env, "compose_exec", t.File, t.Project, t.Service)
	if err != nil {
		return Result{}, err
	}
	cmd := strings.Join(t.Command, " ")
	rc, stdout, stderr, err := c.Exec(ctx, p.Name, t.Service, t.Command)
	res := Result{Changed: err == nil, RC: rc, Stdout: stdout, Stderr: stderr,
		Msg: fmt.Sprintf("ran %q in %s: rc=%d", cmd, t.Service, rc)}
	if err != nil {
		return res, fmt.Errorf("compose_exec: %w", err)
	}
	if rc != 0 {
		return res, fmt.Errorf("compose_exec: %q in %s exited with rc=%d: %s", cmd, t.Service, rc, execTail(stderr, stdout))
	}
	return res, nil
}

// execTail is the tail of a command's output for an error message:
// stderr's when it wrote any, else stdout's.
func execTail(stderr, stdout string) string {
	out := strings.TrimSpace(stderr)
	if out == "" {
		out = strings.TrimSpace(stdout)
	}
	if out == "" {
		return "(no output)"
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "\n")
}
