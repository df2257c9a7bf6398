package errtest

import (
	"errors"
	"runtime"
	"testing"
)

// recorder is a testing.TB that records whether the check failed; like
// testing.T's, its Fatalf stops the goroutine that calls it.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	runtime.Goexit()
}

// says runs Says against a recorder, in a goroutine of its own.
func says(t *testing.T, err error, parts ...string) (failed bool) {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Says(r, err, parts...)
	}()
	<-done
	return r.failed
}

func TestSays(t *testing.T) {
	err := errors.New("proxy nginx: app_1 not running (no address)")
	for _, tc := range []struct {
		name  string
		err   error
		parts []string
		fails bool
	}{
		{"every part", err, []string{"proxy nginx", "not running"}, false},
		{"no parts", err, nil, false},
		{"a part lacking", err, []string{"not running", "drained"}, true},
		{"no error", nil, []string{"anything"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if failed := says(t, tc.err, tc.parts...); failed != tc.fails {
				t.Errorf("failed = %v, want %v", failed, tc.fails)
			}
		})
	}
}
