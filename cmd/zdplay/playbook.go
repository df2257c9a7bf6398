package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/zdplay/zdplay"
	"github.com/zdplay/zdplay/runner"
)

// selectionFlags are -t and --skip-tags, shared by run and list-tasks.
type selectionFlags struct {
	tags, skipTags []string
}

func (s *selectionFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVarP(&s.tags, "tags", "t", nil, "run only tasks with these tags (comma list, repeatable)")
	cmd.Flags().StringSliceVar(&s.skipTags, "skip-tags", nil, "skip tasks with these tags (comma list, repeatable)")
}

func (s *selectionFlags) selection() runner.Selection {
	return runner.Selection{Tags: s.tags, SkipTags: s.skipTags}
}

func newRunCmd() *cobra.Command {
	var (
		sel       selectionFlags
		extraVars []string
		check     bool
		diff      bool
		output    string
	)
	cmd := playbookCmd(&cobra.Command{
		Use:   "run FILE",
		Short: "Run a playbook",
		Long: `Run the selected tasks of a playbook, in order, and print a recap.

Variables: declared defaults < -e @FILE (HCL or JSON) < -e NAME=VALUE; later
flags win. Roles the playbook does not define are looked up in roles/ beside
it, then roles/ beside its directory, then --roles-path and
ZDPLAY_ROLES_PATH (colon-separated), then the roles shipped in zdplay
(rollout, deploy, ...), so a playbook anywhere can include them by name. Tags: -t and --skip-tags, with Ansible's special tags always, never,
all, tagged and untagged.

The first Ctrl-C stops the run before its next task (the proxy is left as the
last finished task left it); a second one aborts the task in flight.

Exit status: 0 ok, 1 a task failed, 2 the playbook or flags are invalid
(nothing was run), 3 internal error (a bug: please report it), 130
interrupted.`,
		Example: `  zdplay run playbooks/app.hcl -t provision
  zdplay run playbooks/app.hcl -t upgrade -e version=0.0.2
  zdplay run playbooks/app.hcl -e @prod.hcl -e replicas=3 --check --diff
  zdplay run playbooks/app.hcl --output json`,
	}, func(cmd *cobra.Command, _ string, pb *runner.Playbook) error {
		printer, err := newPrinter(cmd.OutOrStdout(), output)
		if err != nil {
			return err
		}
		ctx, stop := interruptible(cmd.Context())
		recap, diags, err := runner.Run(ctx, pb, runner.Options{
			ExtraVars: extraVars, Selection: sel.selection(),
			Check: check, Diff: diff, Printer: printer, Stop: stop,
		})
		if diags.HasErrors() {
			return invalid(cmd, pb, diags)
		}
		var failed *runner.TaskFailedError
		var diagErr *runner.DiagError
		switch {
		case errors.Is(err, runner.ErrInterrupted):
			where := "before " + recap.StoppedBefore
			if recap.Aborted != "" {
				where = "in the middle of " + recap.Aborted + " (aborted)"
			}
			return &exitError{exitInterrupted, fmt.Errorf("interrupted %s; every finished task stands and the proxy sends traffic where the last one left it; run the same command again to resume", where)}
		case errors.As(err, &failed):
			if errors.As(err, &diagErr) {
				printDiags(cmd.ErrOrStderr(), pb, diagErr.Diags)
			}
			return &exitError{exitFailed, pb.RedactError(err)}
		case errors.As(err, &diagErr):
			printDiags(cmd.ErrOrStderr(), pb, diagErr.Diags)
			return &exitError{exitFailed, errors.New("the run stopped on the error above")}
		case err != nil:
			return &exitError{exitFailed, pb.RedactError(err)}
		}
		return nil
	})
	sel.register(cmd)
	cmd.Flags().StringArrayVarP(&extraVars, "extra-vars", "e", nil, "set a variable: NAME=VALUE, or @FILE for a .hcl or .json file of them (repeatable)")
	cmd.Flags().BoolVar(&check, "check", false, "report what would change, change nothing")
	cmd.Flags().BoolVar(&diff, "diff", false, "print the diffs of the files that change")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newValidateCmd() *cobra.Command {
	var extraVars []string
	cmd := playbookCmd(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a playbook without running it",
		Long: `Parse a playbook and its roles, check every task's kind and attributes,
every reference and handler name, and (given -e values) the variables.
Nothing is run. Exit status 2 when something is wrong.`,
		Example: "  zdplay validate playbooks/app.hcl\n  zdplay validate playbooks/app.hcl -e @prod.hcl -e version=0.0.2",
	}, func(cmd *cobra.Command, file string, pb *runner.Playbook) error {
		if diags := runner.Validate(pb, extraVars); diags.HasErrors() {
			return invalid(cmd, pb, diags)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s is valid: %d play(s), %d role(s)\n", file, len(pb.Plays), len(pb.Roles))
		return nil
	})
	cmd.Flags().StringArrayVarP(&extraVars, "extra-vars", "e", nil, "set a variable: NAME=VALUE, or @FILE for a .hcl or .json file of them (repeatable)")
	return cmd
}

func newListTasksCmd() *cobra.Command {
	var sel selectionFlags
	cmd := playbookCmd(&cobra.Command{
		Use:     "list-tasks FILE",
		Short:   "List the tasks a run would consider, with their tags",
		Example: "  zdplay list-tasks playbooks/app.hcl -t upgrade",
	}, func(cmd *cobra.Command, _ string, pb *runner.Playbook) error {
		if diags := runner.CheckSelection(pb, sel.selection()); diags.HasErrors() {
			return invalid(cmd, pb, diags)
		}
		pb.ListTasks(cmd.OutOrStdout(), sel.selection())
		return nil
	})
	sel.register(cmd)
	return cmd
}

func newListTagsCmd() *cobra.Command {
	return playbookCmd(&cobra.Command{
		Use:     "list-tags FILE",
		Short:   "List the tags of a playbook's tasks",
		Example: "  zdplay list-tags playbooks/app.hcl",
	}, func(cmd *cobra.Command, _ string, pb *runner.Playbook) error {
		tags := pb.Tags()
		if len(tags) == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "no tags")
			return nil
		}
		fmt.Fprintln(cmd.OutOrStdout(), strings.Join(tags, "\n"))
		return nil
	})
}

// playbookCmd makes cmd a command of one argument, a playbook FILE, which
// it loads (see load) and hands to do. It adds --roles-path, which every
// command that loads a playbook takes.
func playbookCmd(cmd *cobra.Command, do func(cmd *cobra.Command, file string, pb *runner.Playbook) error) *cobra.Command {
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		pb, err := load(cmd, args[0])
		if err != nil {
			return err
		}
		return do(cmd, args[0], pb)
	}
	cmd.Flags().String("roles-path", "", "directories of role files (NAME.hcl), colon-separated, searched after roles/ beside the playbook and before ZDPLAY_ROLES_PATH and the shipped roles")
	return cmd
}

// rolesPath is --roles-path's directories, then ZDPLAY_ROLES_PATH's.
func rolesPath(cmd *cobra.Command) []string {
	flag, _ := cmd.Flags().GetString("roles-path")
	return append(filepath.SplitList(flag), filepath.SplitList(os.Getenv("ZDPLAY_ROLES_PATH"))...)
}

// load parses a playbook, printing its diagnostics on failure. Roles it
// does not define come from beside it, the roles path, then the roles
// shipped in this binary.
func load(cmd *cobra.Command, file string) (*runner.Playbook, error) {
	pb, diags := runner.LoadWith(file, runner.LoadOptions{RolesPath: rolesPath(cmd), Shipped: zdplay.Shipped})
	if diags.HasErrors() {
		return nil, invalid(cmd, pb, diags)
	}
	return pb, nil
}

func invalid(cmd *cobra.Command, pb *runner.Playbook, diags hcl.Diagnostics) error {
	printDiags(cmd.ErrOrStderr(), pb, diags)
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return &exitError{exitInvalid, fmt.Errorf("%d error(s): nothing was run", n)}
}

// printDiags prints file:line:col, the source line and a caret (at most
// 20 diagnostics, secrets hidden: see runner's WriteDiagnostics).
func printDiags(w io.Writer, pb *runner.Playbook, diags hcl.Diagnostics) {
	pb.WriteDiagnostics(w, diags, colorOn(w))
}

func newPrinter(w io.Writer, output string) (runner.Printer, error) {
	switch output {
	case "text":
		tty := isTerminal(w)
		return &runner.TextPrinter{W: w, Color: colorOn(w), Live: tty}, nil
	case "json":
		return runner.JSONPrinter{W: w}, nil
	}
	return nil, &exitError{exitInvalid, fmt.Errorf("--output %q: use text or json", output)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// colorOn: colour only on a terminal, and never with NO_COLOR set.
func colorOn(w io.Writer) bool {
	_, noColor := os.LookupEnv("NO_COLOR")
	return !noColor && isTerminal(w)
}

// interruptible returns a context cancelled by a second SIGINT/SIGTERM and a
// channel closed by the first, so the runner can stop between tasks.
func interruptible(parent context.Context) (context.Context, <-chan struct{}) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\nzdplay: stopping after the task in flight (Ctrl-C again to abort it)")
		close(stop)
		<-sigs
		cancel()
	}()
	return ctx, stop
}
