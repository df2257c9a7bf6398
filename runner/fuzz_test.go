package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary text to the loader: it may reject it with
// diagnostics, never panic. The seed corpus (the shipped and test playbooks)
// runs with every `go test`.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"../playbooks/*.hcl", "../roles/*.hcl", "../testdata/playbooks/*/*.hcl", "../testdata/playbooks/*/roles/*.hcl"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(b))
		}
	}
	f.Add(`play "p" { roles = ["r"] }` + "\n" + `role "r" { serial "s" { for_each = [1] } }`)
	f.Add(`variable "x" { type = list(string), default = ["a"] }`)
	// The input limits: binary, deep nesting, duplicates, bad names.
	f.Add("play \"p\" {\x00 roles = [\"r\"] }")
	f.Add("locals { x = " + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200) + " }")
	f.Add("locals { a = 1 }\nlocals { a = 2 }\nplay \"p\" { roles = [\"../r\"] }")
	f.Add(`play "p" { roles = ["r"] }` + "\n" + `role "r" { include "r" {} }`)
	f.Add(`play "p" { roles = ["r"] }` + "\n" + `role "r" { serial "s" { for_each = 3, pause = "NaN", max_failure_ratio = 2 } }`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		path := filepath.Join(dir, "fuzz.hcl")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		pb, diags := Load(path)
		if !diags.HasErrors() {
			_ = Validate(pb, nil)
		}
	})
}
