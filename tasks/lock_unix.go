//go:build !windows

package tasks

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes flock(2) on f without waiting: ok is false, with no error,
// when another open file holds a conflicting lock.
func tryLock(f *os.File, exclusive bool) (ok bool, err error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
