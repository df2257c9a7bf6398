package tasks

import (
	"os"
	"os/exec"
	"strconv"
)

// inOwnProcessGroup: Windows has no process groups to kill; cancelling the
// context kills the program (exec's default).
func inOwnProcessGroup(*exec.Cmd) {}

// killedBy: a Windows program ends with an exit status, never a signal.
func killedBy(*os.ProcessState) (int, bool) { return 0, false }

func signalName(sig int) string { return strconv.Itoa(sig) }
