package tasks

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Who holds a lock, from Linux's /proc: lock_other.go has the fallback for
// the other systems, where a refused run names the holder the lock file
// records.

// lockPids lists the pids the kernel says hold a flock on f's file (Linux
// /proc/locks; nil elsewhere or when the holder is in another pid namespace).
func lockPids(f *os.File) []int {
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	var pids []int
	for _, line := range strings.Split(string(data), "\n") {
		// 3: FLOCK  ADVISORY  WRITE 1452 fe:00:762143 0 EOF
		fs := strings.Fields(line)
		if len(fs) < 6 || fs[1] != "FLOCK" || fs[5] != want {
			continue // waiters ("3: -> FLOCK ...") and other files
		}
		if pid, err := strconv.Atoi(fs[4]); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procHolder describes a process from /proc.
func procHolder(pid int) lockHolder {
	h := lockHolder{pid: pid}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		h.command = commandLine(hideExtraVarValues(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")))
	}
	h.started = procStart(pid)
	return h
}

// procStart is when a process started: its start time in clock ticks after
// boot (/proc/PID/stat field 22, USER_HZ = 100 on Linux) plus the boot time.
func procStart(pid int) time.Time {
	stat, err1 := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	sys, err2 := os.ReadFile("/proc/stat")
	if err1 != nil || err2 != nil {
		return time.Time{}
	}
	// The command (field 2) may hold spaces: count fields after its ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return time.Time{}
	}
	fs := strings.Fields(string(stat)[i+1:])
	if len(fs) < 20 {
		return time.Time{}
	}
	ticks, err := strconv.ParseInt(fs[19], 10, 64)
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(sys), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}
			}
			return time.Unix(boot, 0).Add(time.Duration(ticks) * (time.Second / 100))
		}
	}
	return time.Time{}
}
