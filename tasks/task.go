// Package tasks holds zdplay's task kinds, one kind per file, each registered
// by name. The runner decodes a task block's kind-specific attributes into the
// struct a kind's constructor returns (gohcl tags), then calls Check or Apply.
// A task kind never imports the runner.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
	"github.com/zdplay/zdplay/internal/rollout"
)

// Task is one step of a playbook.
//
// Check reports what Apply would do without changing anything (--check).
// Apply does it, idempotently: it reports Changed only when it really changed
// something, so a converged second run reports changed=0.
type Task interface {
	Check(ctx context.Context, env *Env) (Result, error)
	Apply(ctx context.Context, env *Env) (Result, error)
}

// Result is what a task reports; registered results expose it to `when`.
type Result struct {
	Changed bool
	Msg     string // one short line for the recap ("app_1 recreated")
	Diff    string // unified diff of what changed (printed with --diff)
	RC      int
	Stdout  string
	Stderr  string
	// Replicas is what an observing kind (compose_replicas) saw of the
	// replicas, for the runner's rollout block to decide on; nil otherwise.
	Replicas rollout.Observation
	// Outputs are a query kind's typed answers (compose_app: the replica
	// count, the image tag...), registered as NAME.outputs.KEY, so that no
	// one parses Msg. Values are string, bool, int, float64, []string or
	// nested map[string]any.
	Outputs map[string]any
}

// Env is what the runner hands a task: where it was declared and what the
// whole run shares.
type Env struct {
	// BaseDir is the directory of the file that declared the task; relative
	// paths in the task resolve against it.
	BaseDir string
	// Vars are the playbook's values (variables, locals and vars), which
	// templates see as their data.
	Vars map[string]any
	// Progress reports a live step ("waiting for app_1: 1.2s"); never nil.
	Progress func(format string, args ...any)
	Shared   *Shared
	// Timeout is the task's timeout, which the runner also sets as the
	// deadline of Check's and Apply's ctx; kinds that wait name it in errors.
	Timeout time.Duration
	// Diff asks for Result.Diff (--diff); without it kinds compute no diff.
	Diff bool
	// Redact hides the values of sensitive variables in s, as the runner
	// does in what it prints. The runner redacts a task's Result itself;
	// kinds call Redact on what they write elsewhere (the lock kind on the
	// command line it records, which may hold `-e password=...`). Nil: no
	// secrets.
	Redact func(s string) string
}

// Progressf calls Progress when set.
func (e *Env) Progressf(format string, args ...any) {
	if e.Progress != nil {
		e.Progress(format, args...)
	}
}

// Shared holds what the tasks of one run share, built on first use so that a
// playbook without Docker tasks never dials the daemon.
type Shared struct {
	dockerOnce sync.Once
	docker     *docker.Client
	dockerErr  error

	stagedMu sync.Mutex
	staged   map[string][]byte

	// swarm holds the connections of the swarm_* kinds, one per docker_host.
	swarm swarmConns

	statesMu sync.Mutex
	states   map[any]RunScoped
	order    []any // the keys of states, in the order they were made
}

// RunScoped is what a kind holds for the rest of a run (the lock kind's
// flocks), kept by the run's Shared instead of a package global, so that
// two runs in one process share nothing and a run that ends, however it
// ends, lets go of it: the runner closes Shared when a run returns, fails,
// is interrupted or panics, and Shared.Close closes each state.
type RunScoped interface {
	Close() error
}

// State returns the run's state of a kind under key (an unexported type
// of the kind's own), made by create on first use.
func (s *Shared) State(key any, create func() RunScoped) RunScoped {
	s.statesMu.Lock()
	defer s.statesMu.Unlock()
	if st, ok := s.states[key]; ok {
		return st
	}
	if s.states == nil {
		s.states = map[any]RunScoped{}
	}
	st := create()
	s.states[key] = st
	s.order = append(s.order, key)
	return st
}

// closeStates closes the run's states, the last made first, and forgets
// them.
func (s *Shared) closeStates() error {
	s.statesMu.Lock()
	states, order := s.states, s.order
	s.states, s.order = nil, nil
	s.statesMu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		errs = append(errs, states[order[i]].Close())
	}
	return errors.Join(errs...)
}

// Stage records, in --check mode, what a task would have written to path, so
// that later tasks judge the state the run would have made (a compose file
// rendered at the new release makes its replicas outdated) without anything
// being written.
func (s *Shared) Stage(path string, content []byte) {
	s.stagedMu.Lock()
	defer s.stagedMu.Unlock()
	if s.staged == nil {
		s.staged = map[string][]byte{}
	}
	s.staged[stageKey(path)] = content
}

// ReadFile returns what --check mode staged for path, else the file's bytes.
func (s *Shared) ReadFile(path string) ([]byte, error) {
	s.stagedMu.Lock()
	content, ok := s.staged[stageKey(path)]
	s.stagedMu.Unlock()
	if ok {
		return content, nil
	}
	return os.ReadFile(path)
}

// Staged returns what --check mode staged for path, if anything.
func (s *Shared) Staged(path string) ([]byte, bool) {
	s.stagedMu.Lock()
	defer s.stagedMu.Unlock()
	content, ok := s.staged[stageKey(path)]
	return content, ok
}

// stageKey names a file whatever relative or absolute path a task gives.
func stageKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// Docker returns the run's Docker connection, connecting on first use.
func (s *Shared) Docker(ctx context.Context) (*docker.Client, error) {
	s.dockerOnce.Do(func() { s.docker, s.dockerErr = docker.Connect(ctx) })
	return s.docker, s.dockerErr
}

// Close releases what the run opened: the kinds' run-scoped states, the
// Swarm and Docker connections.
func (s *Shared) Close() error {
	err := s.closeStates()
	s.swarm.close()
	if s.docker != nil {
		err = errors.Join(err, s.docker.Close())
	}
	return err
}

// Kind describes a registered task kind.
type Kind struct {
	Name string
	// New returns a pointer to a zero task whose fields carry gohcl tags.
	New func() Task
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Kind{}
)

// Register makes a kind available to playbooks; kinds call it from init.
func Register(name string, newTask func() Task) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("tasks: kind %q registered twice", name))
	}
	registry[name] = Kind{Name: name, New: newTask}
}

// Lookup returns the kind registered under name.
func Lookup(name string) (Kind, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	k, ok := registry[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validator is implemented by kinds that can check their input before the run
// starts (a template's syntax), so bad input fails before anything changes.
type Validator interface {
	Validate(env *Env) error
}

// DefaultTimeouter is implemented by kinds that wait (for health, for old
// nginx workers): the runner bounds such a task by DefaultTimeout when the
// task sets no timeout of its own, instead of its general default.
type DefaultTimeouter interface {
	DefaultTimeout() time.Duration
}
