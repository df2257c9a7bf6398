package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Command runs a program (an argv list, no shell).
//
// It reports changed whenever it runs, as Ansible's command does, unless
// changed_when = false. creates (a path) skips it when that path exists,
// removes skips it when that path does not: the way to make it idempotent.
// A non-zero exit status fails the task; rc, stdout and stderr are
// registered.
//
//	task "command" "build images" {
//	  argv    = ["make", "images"]
//	  chdir   = "deploy"
//	  env     = { DOCKER_BUILDKIT = "0" }
//	  creates = "${var.dir}/.built"
//	}
type Command struct {
	Argv        []string          `hcl:"argv"`
	Chdir       string            `hcl:"chdir,optional"`
	Env         map[string]string `hcl:"env,optional"`
	Creates     string            `hcl:"creates,optional"`
	Removes     string            `hcl:"removes,optional"`
	ChangedWhen *bool             `hcl:"changed_when,optional"`
}

var _ Task = (*Command)(nil)

func init() { Register("command", func() Task { return &Command{} }) }

// skip says why the command need not run, or "".
func (t *Command) skip(env *Env) string {
	if t.Creates != "" {
		if _, err := os.Stat(t.Creates); err == nil {
			return t.Creates + " exists"
		}
	}
	if t.Removes != "" {
		if _, err := os.Stat(t.Removes); err != nil {
			return t.Removes + " does not exist"
		}
	}
	return ""
}

func (t *Command) changes() bool { return t.ChangedWhen == nil || *t.ChangedWhen }

func (t *Command) Check(ctx context.Context, env *Env) (Result, error) {
	if len(t.Argv) == 0 {
		return Result{}, errors.New("argv is empty: give the program and its arguments, e.g. argv = [\"make\", \"images\"]")
	}
	if why := t.skip(env); why != "" {
		return Result{Msg: "not run: " + why}, nil
	}
	return Result{Changed: t.changes(), Msg: "would run " + strings.Join(t.Argv, " ")}, nil
}

func (t *Command) Apply(ctx context.Context, env *Env) (Result, error) {
	if r, err := t.Check(ctx, env); err != nil || !strings.HasPrefix(r.Msg, "would run") {
		return r, err
	}
	cmd := exec.CommandContext(ctx, t.Argv[0], t.Argv[1:]...)
	cmd.Dir = t.Chdir // relative to the working directory, like every path but a template's src
	if len(t.Env) > 0 {
		cmd.Env = os.Environ()
		for k, v := range t.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Changed: t.changes(), Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.RC = exit.ExitCode()
		return r, fmt.Errorf("%s exited with status %d: %s", t.Argv[0], r.RC, lastLines(r.Stderr+r.Stdout, 5))
	case err != nil:
		return r, err
	}
	r.Msg = "rc=0"
	return r, nil
}

// lastLines keeps the tail of a program's output for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
