package tasks

import (
	"fmt"
	"io/fs"
	"strconv"
)

// Helpers the file-handling kinds (template, file, lock) share: what a path
// is, and the errors that refuse one.

// fileKind names what a mode describes, for errors: "a directory", "a
// symbolic link", "a named pipe (FIFO)", ...
func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}

// notRegularError refuses path, which is not a regular file: kind names the
// task kind, role what the path is for ("dest", "src", "lock path").
func notRegularError(kind, role, path string, mode fs.FileMode) error {
	return fmt.Errorf("%s: %s %s is %s, not a regular file: refusing to use it; point %s at a regular file (or a path that does not exist yet)",
		kind, role, path, fileKind(mode), role)
}

// fileMode parses an octal mode attribute, the setuid (4000), setgid (2000)
// and sticky (1000) bits included, as chmod(1) does.
func fileMode(kind, s string, example string) (fs.FileMode, error) {
	m, err := parseOctalMode(s)
	if err != nil {
		return 0, fmt.Errorf("%s: mode %q is not an octal file mode such as %q", kind, s, example)
	}
	return m, nil
}

// parseOctalMode turns "1777" into fs.ModeSticky|0o777 (and 4000, 2000 into
// fs.ModeSetuid, fs.ModeSetgid), which os.Chmod maps back to the Unix bits.
func parseOctalMode(s string) (fs.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, err
	}
	if m > 0o7777 {
		return 0, fmt.Errorf("mode %s has bits above 7777", s)
	}
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode, nil
}

// modeBits is the part of a file's mode a mode attribute sets: the
// permissions and the setuid, setgid and sticky bits.
func modeBits(mode fs.FileMode) fs.FileMode {
	return mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// octal prints modeBits as chmod(1) reads them: "0644", "1777", "4755".
func octal(mode fs.FileMode) string {
	m := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return fmt.Sprintf("%04o", m)
}
