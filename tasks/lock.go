package tasks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Lock makes sure that only one run at a time changes what the lock file
// guards (a deployment's directory and its compose project): it takes an
// exclusive flock(2) on path, held until the run ends, so a second run that
// reaches the task fails at once, naming the holder, instead of draining and
// recreating replicas under the first one's feet.
//
// What it changes: it creates path (and its directory) when missing and
// writes the holder into it: pid, command line (sensitive values redacted,
// see Env.Redact), start time and host, which is what the refused run
// reports. The lock is released, and the file emptied, when the run ends;
// the kernel releases it too when the process dies (kill -9, a crash), so a
// killed run never leaves a stale lock behind and a re-run simply takes it.
// Taking the same path again in the same run is a no-op.
//
// When changed: never (ok); a lock held by another process is a failure.
//
// Check (--check) writes nothing: it takes a shared lock on the file when it
// exists, held until the --check ends, so concurrent --check runs do not
// block each other while a --check during a run that holds the lock fails
// the same way, naming it (and a run started during a --check is refused,
// naming the --check). With no file yet no run holds it: Check reports it
// free and creates nothing.
//
//	task "lock" "project" {
//	  path = "${local.dir}/.zdplay.lock"   # relative to the working directory
//	}
type Lock struct {
	Path string `hcl:"path"`
}

var _ Task = (*Lock)(nil)
var _ Validator = (*Lock)(nil)

func init() { Register("lock", func() Task { return &Lock{} }) }

// Validate checks the attributes before the run starts.
func (t *Lock) Validate(*Env) error {
	return composeRequire("lock", "path", t.Path)
}

// Check takes a shared lock on an existing lock file, writing nothing.
func (t *Lock) Check(ctx context.Context, env *Env) (Result, error) {
	if err := t.prepare(env); err != nil {
		return Result{}, err
	}
	if held, ok := runLocks(env.Shared).get(t.Path); ok {
		return Result{Msg: "already held by this run since " + held.since.Format("15:04:05")}, nil
	}
	f, err := openLockFile(t.Path, os.O_RDONLY)
	if errors.Is(err, os.ErrNotExist) {
		return Result{Msg: "would lock " + t.Path + " (no run holds it: the file does not exist yet)"}, nil
	}
	if err != nil {
		return Result{}, err
	}
	if err := lockFile(f, t.Path, false); err != nil {
		f.Close()
		return Result{}, err
	}
	runLocks(env.Shared).keep(t.Path, &lockHeld{f: f, since: time.Now()})
	return Result{Msg: "would lock " + t.Path + " (free; held shared until this --check ends)"}, nil
}

// Apply takes the exclusive lock and records the holder in the file.
func (t *Lock) Apply(ctx context.Context, env *Env) (Result, error) {
	if err := t.prepare(env); err != nil {
		return Result{}, err
	}
	if held, ok := runLocks(env.Shared).get(t.Path); ok {
		return Result{Msg: "already held by this run since " + held.since.Format("15:04:05")}, nil
	}
	if err := os.MkdirAll(filepath.Dir(t.Path), 0o755); err != nil {
		return Result{}, fmt.Errorf("lock: %w", err)
	}
	// The file may be removed (a teardown removes its directory) or replaced
	// between open and flock: then the lock guards nothing, so start again.
	for attempt := 0; ; attempt++ {
		f, err := openLockFile(t.Path, os.O_RDWR|os.O_CREATE)
		if err != nil {
			return Result{}, err
		}
		if err := lockFile(f, t.Path, true); err != nil {
			f.Close()
			return Result{}, err
		}
		if !stillAt(f, t.Path) && attempt < 5 {
			f.Close()
			continue
		}
		h := lockHeld{f: f, since: time.Now(), exclusive: true}
		if err := h.record(holderCommand(env)); err != nil {
			f.Close()
			return Result{}, fmt.Errorf("lock: recording the holder in %s: %w", t.Path, err)
		}
		runLocks(env.Shared).keep(t.Path, &h)
		return Result{Msg: fmt.Sprintf("locked %s (pid %d)", t.Path, os.Getpid())}, nil
	}
}

func (t *Lock) prepare(env *Env) error {
	if err := t.Validate(env); err != nil {
		return err
	}
	if env == nil || env.Shared == nil {
		return errors.New("lock: no shared run state (Env.Shared is nil): the runner must set it")
	}
	return nil
}

// openLockFile opens the lock file at path, never through a symbolic link
// (O_NOFOLLOW: the holder is written into the file, and emptied on release,
// so a link would truncate whatever it points at) and only when it is a
// regular file: a FIFO, device or directory is refused before it is opened
// (and checked again on the open file, O_NONBLOCK, so that nothing blocks).
func openLockFile(path string, flag int) (*os.File, error) {
	if info, err := os.Lstat(path); err == nil && !info.Mode().IsRegular() {
		return nil, notRegularError("lock", "path", path, info.Mode())
	}
	f, err := os.OpenFile(path, flag|openNoFollow, 0o600)
	if err != nil {
		if info, lerr := os.Lstat(path); lerr == nil && !info.Mode().IsRegular() {
			return nil, notRegularError("lock", "path", path, info.Mode()) // replaced since the Lstat
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, notRegularError("lock", "path", path, info.Mode())
	}
	return f, nil
}

// lockFile locks f, exclusive or shared, without waiting; when another
// process holds the lock the error names it.
func lockFile(f *os.File, path string, exclusive bool) error {
	ok, err := tryLock(f, exclusive)
	switch {
	case ok:
		return nil
	case err == nil:
		return fmt.Errorf("lock: %s is locked by %s; wait for it or, if that process is gone, re-run: the lock is released when a process dies",
			path, describeHolder(f, path))
	}
	return fmt.Errorf("lock: locking %s: %w", path, err)
}

// stillAt reports whether path still names the file f has open.
func stillAt(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Lstat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// lockHeld is a lock the run holds: the open file keeps it.
type lockHeld struct {
	f         *os.File
	since     time.Time
	exclusive bool
}

// holderCommand is this process's command line as the lock file records it:
// with the values of sensitive variables redacted, since `-e password=...`
// would otherwise be written to the file and printed by every refused run.
func holderCommand(env *Env) string {
	argv := os.Args
	if env.Redact != nil {
		argv = make([]string, len(os.Args))
		for i, a := range os.Args {
			argv[i] = env.Redact(a)
		}
	}
	return commandLine(argv)
}

// record writes the holder, running command, into the lock file.
func (h *lockHeld) record(command string) error {
	host, _ := os.Hostname()
	content := fmt.Sprintf("pid: %d\ncommand: %s\nstarted: %s\nhost: %s\n",
		os.Getpid(), command, h.since.Format(time.RFC3339), host)
	if err := h.f.Truncate(0); err != nil {
		return err
	}
	_, err := h.f.WriteAt([]byte(content), 0)
	return err
}

// release empties a file the run wrote its holder into, then closes it,
// which releases the lock.
func (h *lockHeld) release() {
	if h.exclusive {
		_ = h.f.Truncate(0)
	}
	_ = h.f.Close()
}

// heldLocks are the locks one run holds, by absolute path: the lock kind's
// run-scoped state (Shared.State), released when the run ends.
type heldLocks struct {
	mu   sync.Mutex
	held map[string]*lockHeld
}

type heldLocksKey struct{}

var _ RunScoped = (*heldLocks)(nil)

func runLocks(s *Shared) *heldLocks {
	return s.State(heldLocksKey{}, func() RunScoped { return &heldLocks{held: map[string]*lockHeld{}} }).(*heldLocks)
}

func (l *heldLocks) get(path string) (*lockHeld, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.held[stageKey(path)]
	return h, ok
}

func (l *heldLocks) keep(path string, h *lockHeld) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[stageKey(path)] = h
}

// Close releases every lock the run took.
func (l *heldLocks) Close() error {
	l.mu.Lock()
	held := l.held
	l.held = map[string]*lockHeld{}
	l.mu.Unlock()
	for _, h := range held {
		h.release()
	}
	return nil
}

// lockHolder is who holds a lock, as far as can be told.
type lockHolder struct {
	pid     int
	command string
	started time.Time
	host    string
}

// describeHolder names the process holding the lock on f: the kernel's lock
// table (/proc/locks) says which pid holds it, even a --check run or a run
// that has not written the file yet; the file says what the run wrote.
func describeHolder(f *os.File, path string) string {
	recorded := readHolder(path)
	pids := lockPids(f)
	h := recorded
	if len(pids) > 0 && !containsPid(pids, recorded.pid) {
		h = procHolder(pids[0])
	}
	if h.pid == 0 {
		return "another process (" + path + " does not say which)"
	}
	s := "pid " + strconv.Itoa(h.pid)
	if host, _ := os.Hostname(); h.host != "" && h.host != host {
		s += " on host " + h.host
	}
	if h.command != "" {
		s += " (" + h.command + ")"
	}
	if !h.started.IsZero() {
		s += " since " + clockTime(h.started)
	}
	return s
}

func containsPid(pids []int, pid int) bool {
	for _, p := range pids {
		if p == pid && pid != 0 {
			return true
		}
	}
	return false
}

// clockTime is "12:01:02" today, else "2006-01-02 12:01:02".
func clockTime(t time.Time) string {
	t = t.Local()
	if y, m, d := t.Date(); y == time.Now().Year() && m == time.Now().Month() && d == time.Now().Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// readHolder parses what record wrote.
func readHolder(path string) lockHolder {
	var h lockHolder
	data, err := os.ReadFile(path)
	if err != nil {
		return h
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch k {
		case "pid":
			h.pid, _ = strconv.Atoi(v)
		case "command":
			h.command = v
		case "started":
			h.started, _ = time.Parse(time.RFC3339, v)
		case "host":
			h.host = v
		}
	}
	return h
}

// hideExtraVarValues hides the values of -e NAME=VALUE in another process's
// command line: which of them are sensitive is not known here (the holder's
// own record redacts exactly those).
func hideExtraVarValues(argv []string) []string {
	out := slices.Clone(argv)
	for i, a := range out {
		value := i > 0 && (out[i-1] == "-e" || out[i-1] == "--extra-vars")
		prefix := ""
		for _, p := range []string{"-e=", "--extra-vars=", "-e"} {
			if !value && strings.HasPrefix(a, p) && len(a) > len(p) {
				value, prefix, a = true, p, strings.TrimPrefix(a, p)
			}
		}
		if name, _, ok := strings.Cut(a, "="); value && ok && !strings.HasPrefix(a, "@") {
			out[i] = prefix + name + "=(hidden)"
		}
	}
	return out
}

// commandLine is argv as a shell would read it, the program by its base name.
func commandLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if i == 0 {
			a = filepath.Base(a)
		}
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
