//go:build !linux

package tasks

import "os"

// Without Linux's /proc the kernel's lock table cannot be read: a refused
// run names the holder the lock file records (see lock_linux.go).

// lockPids lists no pids: the holder is the one the file records.
func lockPids(*os.File) []int { return nil }

// procHolder knows only the pid.
func procHolder(pid int) lockHolder { return lockHolder{pid: pid} }
