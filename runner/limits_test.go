package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func writeFile(t testing.TB, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadErr loads src and returns its one error's summary.
func loadErr(t *testing.T, name, src string) *hcl.Diagnostic {
	t.Helper()
	_, diags := Load(writeFile(t, name, src))
	errs := diags.Errs()
	if len(errs) != 1 {
		t.Fatalf("%d diagnostics, want 1: %v", len(errs), diags)
	}
	return diags[0]
}

// TestBinaryInputIsOneError: a NUL byte or invalid UTF-8 stops the load with
// one clear error before the parser prints thousands.
func TestBinaryInputIsOneError(t *testing.T) {
	junk := strings.Repeat("play \"p\" { roles = [ \x00\x01\xfe\xff }\n", 5000)
	if d := loadErr(t, "bin.hcl", junk); d.Summary != "Binary input" || !strings.Contains(d.Detail, "NUL byte at byte 21") {
		t.Fatalf("got %s: %s", d.Summary, d.Detail)
	}
	if d := loadErr(t, "utf.hcl", "play \"p\" {\n roles = [\"\xc3\x28\"] }\n"); d.Summary != "Binary input" || !strings.Contains(d.Detail, "invalid UTF-8") || d.Subject.Start.Line != 2 {
		t.Fatalf("got %s: %s at %v", d.Summary, d.Detail, d.Subject)
	}
}

// TestDeepNestingIsOneError: 100k parentheses (a stack overflow in the
// parser before) and 40k nested blocks (minutes of work before) are refused
// before parsing.
func TestDeepNestingIsOneError(t *testing.T) {
	cases := map[string]string{
		"parens.hcl": "locals { x = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + " }\nplay \"p\" { roles = [\"r\"] }\nrole \"r\" {}\n",
		"blocks.hcl": "play \"p\" { roles = [\"r\"] }\nrole \"r\" {\n" + strings.Repeat("block \"b\" {\n", 40000) + strings.Repeat("}\n", 40000) + "}\n",
		"interp.hcl": "locals { x = \"" + strings.Repeat("${\"", 5000) + strings.Repeat("\"}", 5000) + "\" }\n",
		"deep.json":  `{"locals": {"x": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}}",
	}
	for name, src := range cases {
		if d := loadErr(t, name, src); d.Summary != "Nested too deeply" {
			t.Errorf("%s: got %s: %s", name, d.Summary, d.Detail)
		}
	}
	// maxNesting levels are fine.
	ok := "play \"p\" { roles = [\"r\"] }\nrole \"r\" {\n" + strings.Repeat("block \"b\" {\n", maxNesting-3) + "task \"assert\" \"a\" { that = [true] }\n" + strings.Repeat("}\n", maxNesting-3) + "}\n"
	if _, diags := Load(writeFile(t, "ok.hcl", ok)); diags.HasErrors() {
		t.Fatal(diags)
	}
}

// TestDeepExtraVarIsRefused: -e values are checked the same way.
func TestDeepExtraVarIsRefused(t *testing.T) {
	pb, diags := Load(writeFile(t, "site.hcl", "variable \"l\" { type = list(number) }\nplay \"p\" { roles = [\"r\"] }\nrole \"r\" {}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	diags = Validate(pb, []string{"l=" + strings.Repeat("[", 100000)})
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, "is not a list of number (from -e)") {
		t.Fatalf("got %v", diags)
	}
}

// TestPrintedDiagnosticsAreCapped: the first 20, then a count.
func TestPrintedDiagnosticsAreCapped(t *testing.T) {
	var src strings.Builder
	for range 50 {
		src.WriteString("nope \"x\" {}\n")
	}
	pb, diags := Load(writeFile(t, "many.hcl", src.String()))
	if len(diags) < 50 {
		t.Fatalf("%d diagnostics", len(diags))
	}
	var out bytes.Buffer
	pb.WriteDiagnostics(&out, diags, false)
	if n := strings.Count(out.String(), "Error: Unsupported block type"); n != maxPrintedDiags {
		t.Errorf("printed %d, want %d", n, maxPrintedDiags)
	}
	if !strings.Contains(out.String(), "... and 30 more not shown") {
		t.Errorf("no count of the rest:\n%s", out.String())
	}
}
