// Command zdplay runs HCL playbooks that upgrade Docker Compose apps one
// replica at a time behind nginx, without dropping a request.
//
// main stays thin: flags in, runner out, errors mapped to exit codes
// (0 ok, 1 a task failed, 2 invalid playbook or flags, 3 internal error,
// 130 interrupted).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitInvalid     = 2
	exitInternal    = 3 // a bug in zdplay (a Go panic), never bad input
	exitInterrupted = 130
)

// exitError carries the exit code of a command that has already told the
// user what went wrong.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the CLI and returns its exit code (testscript calls it too).
func run(args []string) (code int) {
	defer func() {
		if p := recover(); p != nil {
			code = internalError(os.Stderr, p, debug.Stack())
		}
	}()
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "zdplay:", ee.err)
		}
		return ee.code
	default:
		// cobra's own errors: unknown flags, wrong argument counts.
		fmt.Fprintln(os.Stderr, "zdplay:", err)
		fmt.Fprintln(os.Stderr, "Run 'zdplay --help' for usage.")
		return exitInvalid
	}
}

// newRoot builds the command tree; tests replace it.
var newRoot = newRootCmd

// internalError reports a Go panic: it is zdplay's bug, not the input's, so
// it is neither exit 2 (invalid, nothing was run: a task may have run) nor 1.
func internalError(w io.Writer, p any, stack []byte) int {
	fmt.Fprintf(w, "zdplay: internal error: %v\n", p)
	fmt.Fprintln(w, "This is a bug in zdplay, not in your playbook; please report it with the playbook and the stack below.")
	fmt.Fprintf(w, "%s", stack)
	return exitInternal
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "zdplay",
		Short: "Zero-downtime playbooks for Docker Compose apps",
		Long: `zdplay runs declarative HCL playbooks (variables, plays, roles, tagged tasks)
that render a compose file and an nginx conf, then upgrade the replicas of a
Docker Compose app one at a time behind nginx, so that no request fails.`,
		Example: `  zdplay run playbooks/app.hcl -t provision
  zdplay run playbooks/app.hcl -t upgrade -e version=0.0.2
  zdplay run playbooks/app.hcl -t upgrade -e version=0.0.2 --check --diff
  zdplay list-tasks playbooks/app.hcl -t upgrade
  zdplay probe http://127.0.0.1:8000/ -c 40 -d 30s`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(newRunCmd(), newValidateCmd(), newListTasksCmd(), newListTagsCmd(), newVersionCmd(), newProbeCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print zdplay's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "zdplay", version)
		},
	}
}
