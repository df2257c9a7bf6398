package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdplay/zdplay/tasks"
)

// lockThen is a playbook that takes the lock on var.lock, then runs
// what follows.
func lockThen(t *testing.T, then string) *Playbook {
	t.Helper()
	file := writePlaybook(t, `
variable "lock" {}
variable "gate" { default = "" }
play "p" { roles = ["r"] }
role "r" {
  task "lock" "deploy" { path = var.lock }
`+then+`
}
`)
	pb, diags := Load(file)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return pb
}

func lockRun(pb *Playbook, lock string, extra ...string) error {
	_, diags, err := Run(context.Background(), pb, Options{ExtraVars: append([]string{"lock=" + lock}, extra...)})
	if diags.HasErrors() {
		return diags
	}
	return err
}

// Two runs in one process hold their locks apart: while one holds the
// lock, another is refused naming this process; once the first ends, a
// third takes it.
func TestRunsInOneProcessHoldTheirOwnLocks(t *testing.T) {
	dir := t.TempDir()
	lock, gate := filepath.Join(dir, ".zdplay.lock"), filepath.Join(dir, "go")
	waiting := lockThen(t, `task "command" "wait for the gate" {
    argv    = ["sh", "-c", "until [ -e \"$1\" ]; do sleep 0.02; done", "sh", var.gate]
    timeout = "60s"
  }`)
	first := make(chan error, 1)
	go func() { first <- lockRun(waiting, lock, "gate="+gate) }()
	deadline := time.Now().Add(30 * time.Second)
	for content, _ := os.ReadFile(lock); !strings.Contains(string(content), "pid:"); content, _ = os.ReadFile(lock) {
		if time.Now().After(deadline) {
			t.Fatal("the first run never took the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}

	quick := lockThen(t, "")
	err := lockRun(quick, lock)
	var failed *TaskFailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.Result.Error, "is locked by pid") {
		t.Fatalf("second run while the first holds the lock: %v, want refused naming the holder", err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal("first run:", err)
	}
	if err := lockRun(quick, lock); err != nil {
		t.Fatal("a run after the first ended:", err)
	}
}

// A run that fails lets go of its lock: the next run takes it.
func TestLockReleasedWhenTheRunFails(t *testing.T) {
	lock := filepath.Join(t.TempDir(), ".zdplay.lock")
	failing := lockThen(t, `task "assert" "fails" { that = [false] }`)
	var failed *TaskFailedError
	if err := lockRun(failing, lock); !errors.As(err, &failed) || failed.Result.Name != "fails" {
		t.Fatalf("run: %v, want the assert to fail", err)
	}
	if content, _ := os.ReadFile(lock); len(content) != 0 {
		t.Fatalf("the failed run left its record in the lock file:\n%s", content)
	}
	if err := lockRun(lockThen(t, ""), lock); err != nil {
		t.Fatal("the next run:", err)
	}
}

// panicking is a kind whose Apply panics: zdplay's bug, which must not
// leave a lock held in a process that recovers (a test binary, a server).
type panicking struct{}

func (*panicking) Check(context.Context, *tasks.Env) (tasks.Result, error) {
	return tasks.Result{}, nil
}
func (*panicking) Apply(context.Context, *tasks.Env) (tasks.Result, error) { panic("a bug") }

func init() { tasks.Register("test_panic", func() tasks.Task { return &panicking{} }) }

func TestLockReleasedWhenTheRunPanics(t *testing.T) {
	lock := filepath.Join(t.TempDir(), ".zdplay.lock")
	pb := lockThen(t, `task "test_panic" "bug" {}`)
	func() {
		defer func() {
			if p := recover(); p != "a bug" {
				t.Fatalf("recovered %v, want the kind's panic", p)
			}
		}()
		_ = lockRun(pb, lock)
	}()
	if err := lockRun(lockThen(t, ""), lock); err != nil {
		t.Fatal("a run after the panic:", err)
	}
}
