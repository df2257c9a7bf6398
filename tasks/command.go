package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Command runs a program (an argv list, no shell).
//
// It reports changed whenever it runs, as Ansible's command does, unless
// changed_when = false. creates (a path) skips it when that path exists,
// removes skips it when that path does not: the way to make it idempotent.
// A non-zero exit status fails the task; rc, stdout and stderr are
// registered (of each output, the last 1 MiB, commandOutputTail, is kept,
// saying how much was dropped before it; rc is 128+N for a program killed
// by signal N, as in a shell).
//
// The program runs in a process group of its own: a Ctrl-C at the terminal
// (SIGINT to zdplay's foreground group) does not reach it, so the runner's
// first Ctrl-C lets it finish and stops before the next task. When the
// task's timeout passes or the run is aborted (a second Ctrl-C), the whole
// group is killed (SIGKILL), the program's children included, and the task
// fails at once, naming the signal, even if a grandchild kept stdout open.
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
var _ Validator = (*Command)(nil)

// commandOutputTail is how much of a command's stdout, and of its stderr,
// is kept: the last MiB, so 100 MB of output cost 1 MiB of memory.
const commandOutputTail = 1 << 20

// commandWaitDelay bounds the wait for a killed command's output pipes, which
// a process that left its group (a daemon) may hold open.
const commandWaitDelay = 500 * time.Millisecond

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

// Validate checks the attributes before the run starts.
func (t *Command) Validate(*Env) error {
	switch {
	case len(t.Argv) == 0:
		return errors.New("command: attribute argv is empty: give the program and its arguments, e.g. argv = [\"make\", \"images\"]")
	case strings.TrimSpace(t.Argv[0]) == "":
		return errors.New("command: argv[0], the program, is empty: give the program and its arguments, e.g. argv = [\"make\", \"images\"]")
	}
	return nil
}

func (t *Command) Check(ctx context.Context, env *Env) (Result, error) {
	if err := t.Validate(env); err != nil {
		return Result{}, err
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
	inOwnProcessGroup(cmd)
	cmd.WaitDelay = commandWaitDelay
	stdout, stderr := &tailBuffer{max: commandOutputTail}, &tailBuffer{max: commandOutputTail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	r := Result{Changed: t.changes(), Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err != nil && ctx.Err() != nil && cmd.ProcessState != nil:
		r.RC = exitCode(cmd.ProcessState)
		why := "the run was aborted"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			why = "it did not finish within its timeout"
			if env != nil && env.Timeout > 0 {
				why += " (" + env.Timeout.String() + ")"
			}
		}
		return r, fmt.Errorf("command: %s %s: %s, with its process group%s", t.Argv[0], exitDescription(cmd.ProcessState), why, outputTail(r))
	case errors.As(err, &exit):
		r.RC = exitCode(exit.ProcessState)
		return r, fmt.Errorf("command: %s %s%s", t.Argv[0], exitDescription(exit.ProcessState), outputTail(r))
	case err != nil:
		return r, fmt.Errorf("command: %w", err)
	}
	r.Msg = "rc=0"
	return r, nil
}

// outputTail is the end of a failed program's output, for its error.
func outputTail(r Result) string {
	if tail := lastLines(r.Stderr+r.Stdout, 5); tail != "" {
		return ": " + tail
	}
	return ""
}

// exitCode is a program's exit status, or 128+N when signal N killed it.
func exitCode(ps *os.ProcessState) int {
	if sig, ok := killedBy(ps); ok {
		return 128 + sig
	}
	return ps.ExitCode()
}

// exitDescription says how a program ended: "exited with status 3",
// "killed by signal KILL".
func exitDescription(ps *os.ProcessState) string {
	if sig, ok := killedBy(ps); ok {
		return "killed by signal " + signalName(sig)
	}
	return fmt.Sprintf("exited with status %d", ps.ExitCode())
}

// tailBuffer keeps the last max bytes written to it and counts the bytes it
// dropped before them.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > b.max {
		b.dropped += int64(len(b.buf) + len(p) - b.max)
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return n, nil
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max { // compact now and then, not on every write
		cut := len(b.buf) - b.max
		b.dropped += int64(cut)
		b.buf = append(b.buf[:0], b.buf[cut:]...)
	}
	return n, nil
}

// String is the tail, after a line saying how much was dropped, if any.
func (b *tailBuffer) String() string {
	data, dropped := b.buf, b.dropped
	if len(data) > b.max {
		dropped += int64(len(data) - b.max)
		data = data[len(data)-b.max:]
	}
	if dropped == 0 {
		return string(data)
	}
	return fmt.Sprintf("[zdplay: %d bytes of output dropped; the last %d follow]\n", dropped, len(data)) + string(data)
}

// lastLines keeps the tail of a program's output for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
