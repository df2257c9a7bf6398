//go:build !windows

package tasks

import (
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// inOwnProcessGroup starts cmd in a process group of its own, out of reach
// of the terminal's Ctrl-C, and makes cancelling cmd's context (timeout,
// abort) kill the whole group, not only its leader.
func inOwnProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if err == syscall.ESRCH {
			return os.ErrProcessDone
		}
		return err
	}
}

// killedBy reports the signal that ended a process, if one did.
func killedBy(ps *os.ProcessState) (int, bool) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int(ws.Signal()), true
	}
	return 0, false
}

// signalName is "KILL" for 9, as kill -l says.
func signalName(sig int) string {
	if name := unix.SignalName(syscall.Signal(sig)); name != "" {
		return strings.TrimPrefix(name, "SIG")
	}
	return syscall.Signal(sig).String()
}
