package tasks

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A timeout kills the command's whole process group: a shell whose child
// keeps stdout open used to hold the task until the child ended (20 s).
func TestCommandTimeoutKillsTheProcessGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	env := newEnv(t)
	env.Timeout = time.Second
	start := time.Now()
	r, err := (&Command{Argv: []string{"sh", "-c", "echo started; sleep 20; echo done"}}).Apply(ctx, env)
	took := time.Since(start)
	t.Logf("timed out after %s", took)
	if took > 5*time.Second {
		t.Fatalf("a 1s timeout returned after %s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "command: sh killed by signal KILL: it did not finish within its timeout (1s)") {
		t.Fatalf("err = %v, want the signal and the timeout named", err)
	}
	if strings.Contains(err.Error(), "-1") || r.RC != 128+9 || r.Stdout != "started\n" {
		t.Fatalf("result %+v, want rc 137 and the output so far", r)
	}
}

// The program runs in a process group of its own, so a terminal's Ctrl-C
// (SIGINT to zdplay's group) does not reach it.
func TestCommandRunsInItsOwnProcessGroup(t *testing.T) {
	r, err := (&Command{Argv: []string{"sh", "-c", `echo $$; cut -d' ' -f5 /proc/$$/stat`}}).Apply(context.Background(), newEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(r.Stdout)
	if len(fields) != 2 {
		t.Fatalf("stdout %q", r.Stdout)
	}
	pid, _ := strconv.Atoi(fields[0])
	pgid, _ := strconv.Atoi(fields[1])
	if pgid == syscall.Getpgrp() || pgid != pid {
		t.Fatalf("child pid %d in group %d, ours %d: want a group of its own", pid, pgid, syscall.Getpgrp())
	}
}

// A command killed by a signal says which one, not "exit status -1".
func TestCommandKilledBySignalNamesIt(t *testing.T) {
	r, err := (&Command{Argv: []string{"sh", "-c", "echo bye >&2; kill -TERM $$"}}).Apply(context.Background(), newEnv(t))
	if err == nil || err.Error() != "command: sh killed by signal TERM: bye" || r.RC != 128+15 {
		t.Fatalf("err = %v, rc %d", err, r.RC)
	}
}

// Of a command's output only the last commandOutputTail bytes are kept, with
// a line saying how much was dropped.
func TestCommandKeepsABoundedTailOfItsOutput(t *testing.T) {
	const total = 3*commandOutputTail + 12345
	r, err := (&Command{Argv: []string{"sh", "-c", "yes 0123456789abcdef | head -c " + strconv.Itoa(total) + "; printf END"}}).Apply(context.Background(), newEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	dropped := total + 3 - commandOutputTail
	head := "[zdplay: " + strconv.Itoa(dropped) + " bytes of output dropped; the last " + strconv.Itoa(commandOutputTail) + " follow]\n"
	if !strings.HasPrefix(r.Stdout, head) || !strings.HasSuffix(r.Stdout, "END") || len(r.Stdout) != len(head)+commandOutputTail {
		t.Fatalf("stdout is %d bytes starting %q, want %q and the last %d bytes", len(r.Stdout), r.Stdout[:min(len(r.Stdout), 80)], head, commandOutputTail)
	}
	b := &tailBuffer{max: 4}
	for _, w := range []string{"ab", "cdefghij", "k", "lm"} {
		b.Write([]byte(w))
	}
	if got := b.String(); got != "[zdplay: 9 bytes of output dropped; the last 4 follow]\njklm" {
		t.Fatalf("tail %q", got)
	}
}

func TestCommandEmptyArgvNamesTheAttribute(t *testing.T) {
	for _, argv := range [][]string{nil, {""}, {" ", "x"}} {
		c := &Command{Argv: argv}
		if err := c.Validate(nil); err == nil || !strings.HasPrefix(err.Error(), "command: ") || !strings.Contains(err.Error(), "argv") {
			t.Errorf("Validate(%q) = %v", argv, err)
		}
		if _, err := c.Apply(context.Background(), newEnv(t)); err == nil || !strings.HasPrefix(err.Error(), "command: ") || !strings.Contains(err.Error(), "argv") {
			t.Errorf("Apply(%q) = %v", argv, err)
		}
	}
}
