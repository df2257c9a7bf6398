package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Options are the choices of one run.
type Options struct {
	ExtraVars []string // -e values, in order: NAME=VALUE or @FILE
	Selection Selection
	Check     bool // report what would change, change nothing
	Diff      bool // print the diffs of what changes
	Printer   Printer
	// Stop, when closed, makes the run stop before its next task (first
	// Ctrl-C); cancelling the run's context aborts the task in flight.
	Stop <-chan struct{}
}

// ErrInterrupted is returned when Options.Stop ended the run between tasks.
var ErrInterrupted = errors.New("interrupted")

// TaskFailedError is returned when a task failed and stopped the run.
type TaskFailedError struct{ Result *TaskResult }

func (e *TaskFailedError) Error() string {
	return fmt.Sprintf("task %s failed: %s", e.Result.Title(), e.Result.Error)
}

// Run resolves the variables and executes the selected tasks of pb. Invalid
// input (variables, tags, task bodies) comes back as hcl.Diagnostics before
// any task has run.
func Run(ctx context.Context, pb *Playbook, opts Options) (*Recap, hcl.Diagnostics, error) {
	ex, diags := prepare(pb, opts)
	if diags.HasErrors() {
		return nil, diags, nil
	}
	defer ex.shared.Close()
	err := ex.run(ctx)
	ex.recap.Elapsed = time.Since(ex.recap.started)
	ex.printer.Recap(ex.recap)
	return ex.recap, nil, err
}

// DiagError carries HCL diagnostics found while running (a `when` that is not
// a bool, a task attribute of the wrong type) with their source ranges.
type DiagError struct{ Diags hcl.Diagnostics }

func (e *DiagError) Error() string { return e.Diags.Error() }

func diagError(diags hcl.Diagnostics) error { return &DiagError{Diags: diags} }

// Validate checks a loaded playbook as a run would before its first task:
// variables (with the given -e values), locals and every task whose
// attributes are known up front. Nothing runs.
func Validate(pb *Playbook, extraVars []string) hcl.Diagnostics {
	ex, diags := prepare(pb, Options{ExtraVars: extraVars})
	if ex != nil {
		ex.shared.Close()
	}
	return diags
}

// CheckSelection rejects -t / --skip-tags values that no task carries.
func CheckSelection(pb *Playbook, sel Selection) hcl.Diagnostics {
	sel.Tags, sel.SkipTags = splitTags(sel.Tags), splitTags(sel.SkipTags)
	return pb.checkSelection(sel)
}
