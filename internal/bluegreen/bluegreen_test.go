package bluegreen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdplay/zdplay/internal/rollout"
)

var colours = [2]string{"blue", "green"}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		files                map[string]string
		live, idle           string
		liveRelease, idleRel string
		err                  string
	}{
		{name: "fresh: the first colour, at the release", live: "blue", idle: "green", liveRelease: "v9"},
		{name: "blue live, green idle", files: map[string]string{"live-colour": "blue", "blue-release": "v1", "green-release": "v2"},
			live: "blue", idle: "green", liveRelease: "v1", idleRel: "v2"},
		{name: "green live, blue retired", files: map[string]string{"live-colour": "green", "green-release": "v2"},
			live: "green", idle: "blue", liveRelease: "v2"},
		{name: "a live colour without a record runs the release", files: map[string]string{"live-colour": "green"},
			live: "green", idle: "blue", liveRelease: "v9"},
		{name: "not a colour", files: map[string]string{"live-colour": "purple"},
			err: `live-colour says the live colour is "purple", not blue or green: fix or remove it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			s, err := Read(dir, colours, "v9")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%s %s %s %q", s.Live, s.Idle(), s.LiveRelease(), s.IdleRelease())
			if want := fmt.Sprintf("%s %s %s %q", tc.live, tc.idle, tc.liveRelease, tc.idleRel); got != want {
				t.Fatalf("live idle live-release idle-release = %s, want %s", got, want)
			}
		})
	}
}

func TestWriteAndForget(t *testing.T) {
	dir := t.TempDir()
	files := Switched("green", "v2")
	if changed, err := Write(dir, files, true); err != nil || !changed {
		t.Fatalf("dry run: changed %v, err %v; want changed", changed, err)
	}
	if _, err := os.Stat(filepath.Join(dir, LiveColourFile)); !os.IsNotExist(err) {
		t.Fatal("a dry run wrote a file")
	}
	if changed, err := Write(dir, files, false); err != nil || !changed {
		t.Fatalf("write: changed %v, err %v; want changed", changed, err)
	}
	if changed, err := Write(dir, files, false); err != nil || changed {
		t.Fatalf("second write: changed %v, err %v; want unchanged", changed, err)
	}
	s, err := Read(dir, colours, "v9")
	if err != nil || s.Live != "green" || s.LiveRelease() != "v2" {
		t.Fatalf("read back %+v, %v", s, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, LiveReleaseFile)); string(b) != "v2\n" {
		t.Fatalf("live-release = %q", b)
	}
	if forgot, err := Forget(dir, "green", false); err != nil || !forgot {
		t.Fatalf("forget: %v %v", forgot, err)
	}
	if forgot, err := Forget(dir, "green", false); err != nil || forgot {
		t.Fatalf("forget again: %v %v, want nothing to forget", forgot, err)
	}
}

func TestUpstream(t *testing.T) {
	obs := rollout.Observation{
		"blue_1":  {Service: "blue_1", Exists: true, Running: true, Address: "10.0.0.1"},
		"blue_2":  {Service: "blue_2", Exists: true}, // stopped: no address
		"green_1": {Service: "green_1", Exists: true, Running: true, Address: "10.0.0.3"},
	}
	got := fmt.Sprint(Upstream(obs, []string{"green_1", "green_2"}))
	// green_2 does not run: listed without an address, so the switch
	// fails before anything is drained; blue_2 has no address to drain.
	if want := "[{blue_1 10.0.0.1 true} {green_1 10.0.0.3 false} {green_2  false}]"; got != want {
		t.Fatalf("Upstream = %s, want %s", got, want)
	}
}

func TestWith(t *testing.T) {
	got := With(map[string]string{"blue": "v1", "green": "v2"}, "green", "v3")
	if fmt.Sprint(got) != "map[blue:v1 green:v3]" {
		t.Fatalf("With = %v", got)
	}
}
