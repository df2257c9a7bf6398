package runner

import (
	"bytes"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diags for people: file:line:col and the summary
// first (for editors and grep), then HCL's text with the source line and a
// caret. At most maxPrintedDiags are printed, then how many more there are;
// the values of sensitive variables are hidden, in snippets and in the
// values an expression saw ("with var.token as ...") alike.
func (pb *Playbook) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, color bool) {
	var files map[string]*hcl.File
	var secrets *redactor
	if pb != nil {
		files, secrets = pb.Files(), pb.secrets
	}
	var buf bytes.Buffer
	wr := hcl.NewDiagnosticTextWriter(&buf, files, 100, color)
	for i, d := range diags {
		if i == maxPrintedDiags {
			fmt.Fprintf(w, "... and %d more not shown (the first %d are above)\n\n", len(diags)-i, maxPrintedDiags)
			return
		}
		shown := *d
		shown.EvalContext = secrets.evalContext(d.EvalContext)
		// Before HCL wraps the detail, which could split a secret.
		shown.Summary, shown.Detail = secrets.String(d.Summary), secrets.String(d.Detail)
		if d.Subject != nil {
			fmt.Fprintf(&buf, "%s:%d:%d: %s\n", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
		}
		_ = wr.WriteDiagnostic(&shown)
		_, _ = io.WriteString(w, secrets.String(buf.String()))
		buf.Reset()
	}
}

// Redact hides the values of the sensitive variables in s, as everything
// the runner prints does.
func (pb *Playbook) Redact(s string) string {
	if pb == nil {
		return s
	}
	return pb.secrets.String(s)
}

// RedactError is err with its message redacted (nil stays nil); errors.Is
// and errors.As still see err.
func (pb *Playbook) RedactError(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: pb.Redact(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
