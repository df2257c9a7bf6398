// Package bluegreen is a blue-green deployment's state and the decisions
// that depend on it alone, apart from Docker and HCL (the runner's
// bluegreen block drives the steps): two colours of replicas, one live (the
// proxy sends it every request), the other idle; a release goes to the idle
// colour and, once every replica of it is healthy, the proxy switches to
// it. The old colour keeps running, so switching back is one more switch.
//
// The state is a few files in a directory, read when a run starts:
//
//	live-colour     the colour the proxy serves, written right after the
//	                switch to it (absent: the first colour, on a fresh dir)
//	COLOUR-release  the release a colour runs (absent: the colour does not
//	                exist), written before the colour is brought up at it
//	live-release    the live colour's release, for people and scripts
package bluegreen

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/zdplay/zdplay/internal/atomicfile"
	"github.com/zdplay/zdplay/internal/rollout"
)

// The state files.
const (
	LiveColourFile  = "live-colour"
	LiveReleaseFile = "live-release"
)

// ReleaseFile is the file that records the release a colour runs.
func ReleaseFile(colour string) string { return colour + "-release" }

// State is what the files of a deployment say.
type State struct {
	Dir      string
	Colours  [2]string         // the two colours, the first live on a fresh dir
	Live     string            // the colour the proxy serves
	Releases map[string]string // colour -> its release; a colour absent does not exist
}

// Read reads the state in dir. On a fresh dir the first colour is live, at
// release (what provision brings it up at).
func Read(dir string, colours [2]string, release string) (State, error) {
	s := State{Dir: dir, Colours: colours, Live: colours[0], Releases: map[string]string{}}
	live, ok, err := s.read(LiveColourFile)
	if err != nil {
		return s, err
	}
	if ok {
		if !slices.Contains(colours[:], live) {
			return s, fmt.Errorf("%s says the live colour is %q, not %s or %s: fix or remove it", filepath.Join(dir, LiveColourFile), live, colours[0], colours[1])
		}
		s.Live = live
	}
	for _, c := range colours {
		rel, ok, err := s.read(ReleaseFile(c))
		if err != nil {
			return s, err
		}
		if ok && rel != "" {
			s.Releases[c] = rel
		}
	}
	if s.Releases[s.Live] == "" {
		s.Releases[s.Live] = release
	}
	return s, nil
}

func (s State) read(name string) (string, bool, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(string(b)), true, nil
}

// Idle is the colour the proxy does not serve.
func (s State) Idle() string {
	if s.Live == s.Colours[0] {
		return s.Colours[1]
	}
	return s.Colours[0]
}

// LiveRelease is the release the live colour runs.
func (s State) LiveRelease() string { return s.Releases[s.Live] }

// IdleRelease is the release the idle colour runs, "" when it does not
// exist (never deployed, or retired).
func (s State) IdleRelease() string { return s.Releases[s.Idle()] }

// Existing maps each colour that exists to its release: what the compose
// file renders when no colour changes.
func (s State) Existing() map[string]string { return maps.Clone(s.Releases) }

// With is colours with colour at release.
func With(colours map[string]string, colour, release string) map[string]string {
	out := maps.Clone(colours)
	out[colour] = release
	return out
}

// File is a state file's content.
type File struct{ Name, Value string }

// Switched is what records colour live at release.
func Switched(colour, release string) []File {
	return []File{{LiveColourFile, colour}, {LiveReleaseFile, release}, {ReleaseFile(colour), release}}
}

// Write writes the files that differ from what dir holds and reports
// whether any did; with dryRun it only reports.
func Write(dir string, files []File, dryRun bool) (bool, error) {
	changed := false
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		data := []byte(f.Value + "\n")
		if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
			continue
		}
		changed = true
		if dryRun {
			continue
		}
		if err := atomicfile.Write(path, data, 0o644); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// Forget removes a colour's release file (it no longer exists) and reports
// whether there was one; with dryRun it only reports.
func Forget(dir, colour string, dryRun bool) (bool, error) {
	path := filepath.Join(dir, ReleaseFile(colour))
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if dryRun {
		return true, nil
	}
	return true, os.Remove(path)
}

// Upstream is the proxy's upstream for a switch to the replicas to: each
// of them in, running or not (one without an address fails the switch
// before anything is drained), and every other running replica of obs
// down, so the proxy lets go of it.
func Upstream(obs rollout.Observation, to []string) []rollout.Server {
	var out []rollout.Server
	for _, s := range to {
		out = append(out, rollout.Server{Name: s, Address: obs[s].Address})
	}
	for _, r := range obs {
		if !slices.Contains(to, r.Service) && r.Running && r.Address != "" {
			out = append(out, rollout.Server{Name: r.Service, Address: r.Address, Down: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NotAsRecorded says why replicas of obs do not run what the compose file
// says (its colours at their recorded releases); nil when each does.
// Whether they are healthy is the gate's to say.
func NotAsRecorded(obs rollout.Observation, services []string) []string {
	var why []string
	for _, s := range services {
		switch r := obs[s]; {
		case !r.Exists:
			why = append(why, s+" has no container")
		case !r.Current:
			why = append(why, s+" differs from the compose file")
		}
	}
	return why
}
