package runner

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// maxDuration bounds every duration a playbook gives (a pause, a delay, a
// timeout): a year is past any deployment's patience and far from
// time.Duration's overflow.
const maxDuration = 365 * 24 * time.Hour

// parseDuration is the one duration parser of the runner: "1.5s", "100ms",
// "2m30s" or a number of seconds ("5", "0.5"). NaN, infinities, negative
// values and anything over maxDuration are errors that say so.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		secs, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64)
		switch {
		case ferr != nil && !strings.Contains(ferr.Error(), "range"), math.IsNaN(secs):
			return 0, fmt.Errorf("%q is not a duration such as \"500ms\", \"60s\" or \"2m\"", s)
		case math.IsInf(secs, 0) || math.Abs(secs) > maxDuration.Seconds():
			if secs < 0 {
				return 0, fmt.Errorf("%q is negative: a duration is 0 or more", s)
			}
			return 0, fmt.Errorf("%q is too long: at most %s", s, maxDuration)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	switch {
	case d < 0:
		return 0, fmt.Errorf("%q is negative: a duration is 0 or more", s)
	case d > maxDuration:
		return 0, fmt.Errorf("%q is too long: at most %s", s, maxDuration)
	}
	return d, nil
}

// durationAttr reads an optional duration attribute (def when unset).
func durationAttr(expr hcl.Expression, ctx *hcl.EvalContext, def time.Duration) (time.Duration, error) {
	if expr == nil {
		return def, nil
	}
	var s string
	if diags := gohcl.DecodeExpression(expr, ctx, &s); diags.HasErrors() {
		return 0, diagError(diags)
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, attrError(expr, err.Error())
	}
	return d, nil
}
