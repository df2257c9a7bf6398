//go:build !windows

package tasks

import "syscall"

// Open flags for the files the kinds read and lock, so that a path swapped
// for a FIFO between the check and the open cannot block the run.
const (
	openNonBlock = syscall.O_NONBLOCK
	// openNoFollow: a symbolic link is not followed (the open fails) and a
	// FIFO does not block the open.
	openNoFollow = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
)
