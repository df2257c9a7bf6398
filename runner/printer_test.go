package runner

import (
	"bytes"
	"strings"
	"testing"
)

// Items of a parallel block report progress at once: each line names the
// task it belongs to, not whichever task started last.
func TestProgressKeyedByTask(t *testing.T) {
	var out bytes.Buffer
	p := &TextPrinter{W: &out, Live: true}
	a := &TaskResult{Kind: "wait_healthy", Name: "healthy", Item: "app_1"}
	b := &TaskResult{Kind: "wait_healthy", Name: "healthy", Item: "app_2"}
	p.TaskStart(a)
	p.TaskStart(b)
	p.Progress(a.Title(), "waiting 1.2s")
	if got := out.String(); !strings.HasSuffix(got, `wait_healthy "healthy" (app_1): waiting 1.2s`) {
		t.Fatalf("progress of app_1 printed as %q", got[strings.LastIndex(got, "\r")+1:])
	}
}
