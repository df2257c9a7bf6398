package runner

import (
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// redacted replaces the value of a sensitive variable wherever it shows.
const redacted = "(sensitive value)"

// minSecretLen is the shortest secret hidden inside other text. A shorter
// value (a PIN of 3 digits, "a") is redacted only where it is the whole of
// what is printed (an item label, a stdout, a value in a diagnostic), never
// as a substring: hiding every "a" would garble everything else.
const minSecretLen = 4

// redactor hides the values of sensitive variables: the one helper every
// printed string goes through (recap, JSON, diffs, notes, progress,
// diagnostics, the final error, the lock file's command line).
type redactor struct {
	long  []string        // replaced wherever they appear, longest first
	whole map[string]bool // short ones: replaced only as a whole value
	names map[string]bool // the sensitive variables, for diagnostics
}

// newRedactor builds a redactor for the given secret strings.
func newRedactor(names []string, secrets []string) *redactor {
	r := &redactor{whole: map[string]bool{}, names: map[string]bool{}}
	for _, n := range names {
		r.names[n] = true
	}
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		if len(s) < minSecretLen {
			r.whole[s] = true
			return
		}
		r.long = append(r.long, s)
	}
	for _, s := range secrets {
		add(s)
		add(strings.TrimSpace(s))
		// As Go's %q and HCL quote it (diagnostics print values so).
		if q := strconv.Quote(s); q[1:len(q)-1] != s {
			add(q[1 : len(q)-1])
		}
	}
	sort.SliceStable(r.long, func(i, j int) bool { return len(r.long[i]) > len(r.long[j]) })
	return r
}

// String returns s with every secret replaced.
func (r *redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	if t := strings.TrimSpace(s); r.whole[t] || r.whole[strings.Trim(t, `"`)] {
		return redacted
	}
	// A command-line argument setting a sensitive variable (-e pin=12,
	// -epin=12, --extra-vars=pin=12), as the lock file records it.
	for _, prefix := range []string{"--extra-vars=", "-e=", "-e", ""} {
		if name, _, ok := strings.Cut(strings.TrimPrefix(s, prefix), "="); ok && strings.HasPrefix(s, prefix) && r.names[name] {
			return s[:len(prefix)+len(name)+1] + redacted
		}
	}
	for _, secret := range r.long {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// evalContext returns ctx with the sensitive variables' values replaced,
// for a diagnostic that prints the values an expression saw ("with var.x
// as ...").
func (r *redactor) evalContext(ctx *hcl.EvalContext) *hcl.EvalContext {
	if r == nil || ctx == nil || len(r.names) == 0 {
		return ctx
	}
	out := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: ctx.Functions}
	for k, v := range ctx.Variables {
		out.Variables[k] = v
	}
	if v, ok := out.Variables["var"]; ok && v.Type().IsObjectType() && v.IsKnown() && !v.IsNull() {
		attrs := map[string]cty.Value{}
		for name := range v.Type().AttributeTypes() {
			attrs[name] = v.GetAttr(name)
			if r.names[name] {
				attrs[name] = cty.StringVal(redacted)
			}
		}
		out.Variables["var"] = cty.ObjectVal(attrs)
	}
	// Locals, each and registered results may hold a secret too.
	for k, v := range out.Variables {
		out.Variables[k] = r.value(v)
	}
	return out
}

// value redacts every string inside v.
func (r *redactor) value(v cty.Value) cty.Value {
	out, err := cty.TransformWithTransformer(v, redactLeaves{r})
	if err != nil {
		return cty.StringVal(redacted)
	}
	return out
}

type redactLeaves struct{ r *redactor }

func (redactLeaves) Enter(_ cty.Path, v cty.Value) (cty.Value, error) { return v, nil }
func (t redactLeaves) Exit(_ cty.Path, v cty.Value) (cty.Value, error) {
	if v.Type() == cty.String && v.IsKnown() && !v.IsNull() && !v.IsMarked() {
		if s := t.r.String(v.AsString()); s != v.AsString() {
			return cty.StringVal(s), nil
		}
	}
	return v, nil
}

// secretLeaves lists the printable leaves of a sensitive value: every string
// and number in it, however nested.
func secretLeaves(v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return []string{v.AsString()}
	case t == cty.Number:
		return []string{v.AsBigFloat().Text('f', -1)}
	case t.IsListType() || t.IsTupleType() || t.IsSetType() || t.IsMapType() || t.IsObjectType():
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, secretLeaves(e)...)
		}
		return out
	}
	return nil
}

// redactingPrinter passes everything printed through the redactor.
type redactingPrinter struct {
	Printer
	secrets *redactor
}

func (p redactingPrinter) TaskStart(r *TaskResult) {
	r.Item = p.secrets.String(r.Item)
	p.Printer.TaskStart(r)
}
func (p redactingPrinter) Progress(title, msg string) {
	p.Printer.Progress(p.secrets.String(title), p.secrets.String(msg))
}
func (p redactingPrinter) Note(msg string) { p.Printer.Note(p.secrets.String(msg)) }
func (p redactingPrinter) TaskDone(r *TaskResult, diff bool) {
	r.redact(p.secrets)
	p.Printer.TaskDone(r, diff)
}
