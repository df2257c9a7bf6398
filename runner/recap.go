package runner

import (
	"fmt"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zdplay/zdplay/tasks"
)

// Task statuses, as Ansible names them.
const (
	StatusOK      = "ok"
	StatusChanged = "changed"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
	StatusIgnored = "ignored" // failed, with ignore_errors
)

// TaskResult is one line of the recap.
type TaskResult struct {
	Play     string         `json:"play"`
	Role     string         `json:"role"`
	Kind     string         `json:"kind"`
	Name     string         `json:"name"`
	Item     string         `json:"item,omitempty"`
	Handler  bool           `json:"handler,omitempty"`
	Pos      string         `json:"pos"`
	Status   string         `json:"status"`
	Duration time.Duration  `json:"duration_ns"`
	Msg      string         `json:"msg,omitempty"`
	Error    string         `json:"error,omitempty"`
	Diff     string         `json:"diff,omitempty"`
	RC       int            `json:"rc,omitempty"`
	Stdout   string         `json:"stdout,omitempty"`
	Stderr   string         `json:"stderr,omitempty"`
	Outputs  map[string]any `json:"outputs,omitempty"`
}

// Title names the task for people: kind "name" (item).
func (r *TaskResult) Title() string {
	s := fmt.Sprintf("%s %q", r.Kind, r.Name)
	if r.Item != "" {
		s += " (" + r.Item + ")"
	}
	return s
}

func (r *TaskResult) fill(res tasks.Result) {
	r.Msg, r.Diff, r.RC, r.Stdout, r.Stderr, r.Outputs = res.Msg, res.Diff, res.RC, res.Stdout, res.Stderr, res.Outputs
}

// redact hides secrets in everything a result prints, diffs and JSON included.
func (r *TaskResult) redact(secrets *redactor) {
	for _, field := range []*string{&r.Item, &r.Msg, &r.Error, &r.Diff, &r.Stdout, &r.Stderr} {
		*field = secrets.String(*field)
	}
}

// registerValue is what `register = "name"` exposes to later expressions.
func (r *TaskResult) registerValue() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"changed": cty.BoolVal(r.Status == StatusChanged),
		"failed":  cty.BoolVal(r.Status == StatusFailed || r.Status == StatusIgnored),
		"skipped": cty.BoolVal(r.Status == StatusSkipped),
		"rc":      cty.NumberIntVal(int64(r.RC)),
		"stdout":  cty.StringVal(r.Stdout),
		"stderr":  cty.StringVal(r.Stderr),
		"msg":     cty.StringVal(r.Msg),
		"outputs": outputsValue(r.Outputs),
	})
}

// outputsValue is a kind's Outputs as HCL sees them (NAME.outputs.KEY).
func outputsValue(m map[string]any) cty.Value {
	vals := map[string]cty.Value{}
	for k, v := range m {
		vals[k] = goToCty(v)
	}
	return cty.ObjectVal(vals)
}

func goToCty(v any) cty.Value {
	switch v := v.(type) {
	case string:
		return cty.StringVal(v)
	case bool:
		return cty.BoolVal(v)
	case int:
		return cty.NumberIntVal(int64(v))
	case int64:
		return cty.NumberIntVal(v)
	case float64:
		return cty.NumberFloatVal(v)
	case []string:
		vals := make([]cty.Value, len(v))
		for i, s := range v {
			vals[i] = cty.StringVal(s)
		}
		return cty.TupleVal(vals)
	case map[string]any:
		return outputsValue(v)
	}
	return cty.StringVal(fmt.Sprint(v))
}

// Recap sums up a run.
type Recap struct {
	OK            int           `json:"ok"`
	Changed       int           `json:"changed"`
	Skipped       int           `json:"skipped"`
	Failed        int           `json:"failed"`
	Ignored       int           `json:"ignored"`
	Check         bool          `json:"check_mode"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	StoppedBefore string        `json:"stopped_before,omitempty"`
	Aborted       string        `json:"aborted,omitempty"` // the task a second Ctrl-C cut short
	Tasks         []*TaskResult `json:"tasks"`

	started time.Time
}

func (r *Recap) add(t *TaskResult) {
	r.Tasks = append(r.Tasks, t)
	switch t.Status {
	case StatusOK:
		r.OK++
	case StatusChanged:
		r.Changed++
	case StatusSkipped:
		r.Skipped++
	case StatusFailed:
		r.Failed++
	case StatusIgnored:
		r.Ignored++
	}
}

// Summary is the recap line: ok=5 changed=2 skipped=1 failed=0.
func (r *Recap) Summary() string {
	s := fmt.Sprintf("ok=%d changed=%d skipped=%d failed=%d", r.OK, r.Changed, r.Skipped, r.Failed)
	if r.Ignored > 0 {
		s += fmt.Sprintf(" ignored=%d", r.Ignored)
	}
	return s
}

// roundDuration keeps printed durations readable.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.2fs", d.Seconds()), "0")
	}
}
