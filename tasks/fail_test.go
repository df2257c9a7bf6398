package tasks

import (
	"context"
	"testing"
)

func TestFail(t *testing.T) {
	for _, c := range []struct{ msg, want string }{
		{"not switched: blue still serves", "not switched: blue still serves"},
		{"", "failed (the fail task has an empty msg)"},
	} {
		task := &Fail{Msg: c.msg}
		for name, run := range map[string]func(context.Context, *Env) (Result, error){"Check": task.Check, "Apply": task.Apply} {
			res, err := run(context.Background(), nil)
			if err == nil || err.Error() != c.want || res.Msg != c.want || res.Changed {
				t.Errorf("%s(%q) = %+v, %v; want failed with %q, unchanged", name, c.msg, res, err, c.want)
			}
		}
	}
}
