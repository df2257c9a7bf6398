package runner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits on the input, checked before it is parsed, so that a hostile or
// broken file gets one clear error instead of a stack overflow, minutes of
// work or thousands of diagnostics.
const (
	// maxNesting is the deepest nesting of brackets, braces, parentheses,
	// quotes and template interpolations a file may have. The shipped
	// playbooks need about 10.
	maxNesting = 64
	// maxInputSize bounds a playbook, role or variables file.
	maxInputSize = 16 << 20
	// maxPrintedDiags is how many diagnostics are printed; the rest are
	// counted.
	maxPrintedDiags = 20
)

// parseFile reads an HCL (or, by its extension, JSON) file after checking
// that it is text of a sane size and nesting. what names the file in errors
// ("playbook", "role file", ...).
func (pb *Playbook) parseFile(path, what string) (*hcl.File, hcl.Diagnostics) {
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read " + what, Detail: err.Error()}}
	case !info.Mode().IsRegular():
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read " + what, Detail: path + " is not a regular file."}}
	case info.Size() > maxInputSize:
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Input too large", Detail: fmt.Sprintf("%s is %d bytes; a %s may have at most %d.", path, info.Size(), what, maxInputSize)}}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read " + what, Detail: err.Error()}}
	}
	json := filepath.Ext(path) == ".json"
	if diags := checkText(src, path); diags.HasErrors() {
		return nil, diags
	}
	if diags := checkNesting(src, path, json); diags.HasErrors() {
		return nil, diags
	}
	if json {
		return pb.parser.ParseJSON(src, path)
	}
	return pb.parser.ParseHCL(src, path)
}

// checkInput checks a piece of HCL given on the command line.
func checkInput(src []byte, name string) hcl.Diagnostics {
	if diags := checkText(src, name); diags.HasErrors() {
		return diags
	}
	return checkNesting(src, name, false)
}

// checkText rejects binary input: a NUL byte or invalid UTF-8.
func checkText(src []byte, name string) hcl.Diagnostics {
	at := bytes.IndexByte(src, 0)
	why := "a NUL byte"
	if at < 0 && !utf8.Valid(src) {
		why = "invalid UTF-8"
		for at = 0; at < len(src); {
			r, size := utf8.DecodeRune(src[at:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			at += size
		}
	}
	if at < 0 {
		return nil
	}
	return inputError(src, name, at, "Binary input",
		fmt.Sprintf("%s is not a text file (%s at byte %d): a playbook, role or variables file is UTF-8 HCL or JSON text.", name, why, at))
}

// inputError is the error summary, detail at byte offset at of the file
// name, before any parser has ranges to point with.
func inputError(src []byte, name string, at int, summary, detail string) hcl.Diagnostics {
	pos := posAt(src, at)
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  &hcl.Range{Filename: name, Start: pos, End: pos},
	}}
}

// checkNesting rejects input nested deeper than maxNesting, from the
// lexer's tokens (linear, no recursion), before the recursive parser sees it.
func checkNesting(src []byte, name string, json bool) hcl.Diagnostics {
	at := -1
	if json {
		at = jsonNesting(src)
	} else {
		tokens, _ := hclsyntax.LexConfig(src, name, hcl.InitialPos)
		d := 0
		for _, t := range tokens {
			switch t.Type {
			case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
				hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
				hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
				d++
				if d > maxNesting && at < 0 {
					at = t.Range.Start.Byte
				}
			case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
				hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
				d--
			}
		}
	}
	if at < 0 {
		return nil
	}
	return inputError(src, name, at, "Nested too deeply",
		fmt.Sprintf("%s nests brackets, blocks or templates more than %d levels deep (at line %d); flatten it, e.g. with locals.", name, maxNesting, posAt(src, at).Line))
}

// jsonNesting finds where JSON nests deeper than maxNesting (-1: nowhere);
// the HCL templates inside strings count by their brackets.
func jsonNesting(src []byte) int {
	d, at := 0, -1
	inString := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			switch c {
			case '\\':
				i++
				continue
			case '"':
				inString = false
				d--
				continue
			}
		} else if c == '"' {
			inString = true
		}
		switch c {
		case '{', '[', '(', '"':
			d++
			if d > maxNesting && at < 0 {
				at = i
			}
		case '}', ']', ')':
			d--
		}
	}
	return at
}

// posAt is the line and column of byte offset at in src.
func posAt(src []byte, at int) hcl.Pos {
	if at > len(src) {
		at = len(src)
	}
	line := 1 + bytes.Count(src[:at], []byte("\n"))
	col := at - bytes.LastIndexByte(src[:at], '\n')
	return hcl.Pos{Line: line, Column: col, Byte: at}
}
