package tasks

import (
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// unifiedDiff returns a unified diff of two texts (empty when equal), with
// three lines of context, as diff -u prints it: a last line without its
// newline is marked "\ No newline at end of file", so a file that differs
// only there shows a hunk. The matching is go-difflib's (Python difflib's
// algorithm), linear in memory; the template kind computes a diff only
// when --diff asks for one (Env.Diff).
func unifiedDiff(oldName, newName, oldText, newText string) string {
	if oldText == newText {
		return ""
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: diffLines(oldText), B: diffLines(newText),
		FromFile: oldName, ToFile: newName, Context: 3,
	})
	if err != nil { // only a failed write, which a strings.Builder never has
		return ""
	}
	return d
}

// diffLines splits text into lines that keep their "\n"; a last line
// without one carries diff's marker instead, so it compares unequal to the
// same line with its newline.
func diffLines(text string) []string {
	if text == "" {
		return nil
	}
	lines := strings.SplitAfter(text, "\n")
	if last := lines[len(lines)-1]; last == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] = last + "\n\\ No newline at end of file\n"
	}
	return lines
}
