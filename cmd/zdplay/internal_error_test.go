package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestPanicExitsInternal: a Go panic is zdplay's bug, reported as such with
// exit 3, never 2 ("invalid, nothing was run").
func TestPanicExitsInternal(t *testing.T) {
	saved := newRoot
	t.Cleanup(func() { newRoot = saved })
	newRoot = func() *cobra.Command {
		return &cobra.Command{Use: "zdplay", SilenceErrors: true, RunE: func(*cobra.Command, []string) error {
			var items []string
			return fmt.Errorf("%s", items[len(items)]) // index out of range: a runtime panic
		}}
	}
	if code := run(nil); code != exitInternal || exitInternal == exitInvalid {
		t.Fatalf("exit %d, want %d", code, exitInternal)
	}
	var out bytes.Buffer
	internalError(&out, "boom", []byte("goroutine 1 [running]:\n"))
	for _, want := range []string{"zdplay: internal error: boom", "please report", "goroutine 1 [running]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}
