package runner

import (
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// roleNamePattern is a plain role name: what roles/NAME.hcl can be without
// leaving the roles directories (no /, no ..).
var roleNamePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

// checkRoleName refuses a role name that is not a plain name, so that
// roles = ["../../x"] never loads a file outside the roles directories.
func checkRoleName(name string, subject hcl.Range) *hcl.Diagnostic {
	if roleNamePattern.MatchString(name) {
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid role name " + quote(name),
		Detail:   "A role name is letters, digits, _ and - (it names roles/NAME.hcl); no path: move the file into a roles directory instead.",
		Subject:  subject.Ptr(),
	}
}

// decodeTags reads a literal list of tags. A tag may not be empty nor
// contain a comma or a space: -t a,b selects the tags a and b, so a tag
// "a,b" could never be selected.
func decodeTags(expr hcl.Expression) ([]string, hcl.Diagnostics) {
	tags, ranges, diags := staticStrings(expr)
	if diags.HasErrors() {
		return tags, diags
	}
	for i, t := range tags {
		if t != "" && !strings.ContainsAny(t, ", \t\n") {
			continue
		}
		subject := expr.Range()
		if i < len(ranges) {
			subject = ranges[i]
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid tag " + quote(t),
			Detail:   "A tag is one word: no comma (-t a,b means the tags a and b) and no space. Write tags = [\"a\", \"b\"] for two tags.",
			Subject:  subject.Ptr(),
		})
	}
	return tags, diags
}
