// Package errtest helps tests check the errors they expect: that there is
// one, and that it says what a user needs to read in it.
package errtest

import (
	"strings"
	"testing"
)

// Says fails t, and stops it, unless err is an error whose message holds
// every one of parts; it names the parts the message lacks.
func Says(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", parts)
	}
	var lacks []string
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			lacks = append(lacks, p)
		}
	}
	if len(lacks) > 0 {
		t.Fatalf("error does not say %q:\n%v", lacks, err)
	}
}
