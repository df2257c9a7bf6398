package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSelection(t *testing.T) {
	cases := []struct {
		sel  Selection
		tags []string
		want bool
	}{
		{Selection{}, nil, true},
		{Selection{}, []string{"upgrade"}, true},
		{Selection{}, []string{"never", "teardown"}, false},
		{Selection{Tags: []string{"teardown"}}, []string{"never", "teardown"}, true},
		{Selection{Tags: []string{"upgrade"}}, []string{"provision"}, false},
		{Selection{Tags: []string{"upgrade"}}, []string{"always"}, true},
		{Selection{Tags: []string{"upgrade"}, SkipTags: []string{"always"}}, []string{"always"}, false},
		{Selection{SkipTags: []string{"upgrade"}}, []string{"upgrade", "web"}, false},
		{Selection{Tags: []string{"tagged"}}, nil, false},
		{Selection{Tags: []string{"tagged"}}, []string{"x"}, true},
		{Selection{Tags: []string{"untagged"}}, nil, true},
		{Selection{SkipTags: []string{"untagged"}}, nil, false},
		{Selection{Tags: []string{"never"}}, []string{"never"}, true},
	}
	for _, c := range cases {
		if got := c.sel.selects(c.tags); got != c.want {
			t.Errorf("%+v selects %v = %v, want %v", c.sel, c.tags, got, c.want)
		}
	}
}

func TestSplitTags(t *testing.T) {
	got := strings.Join(splitTags([]string{"a,b", " c ", "", "d,,e"}), "|")
	if got != "a|b|c|d|e" {
		t.Fatalf("splitTags = %q", got)
	}
}

// runBasic runs testdata/playbooks/basic into dir and returns the recap.
func runBasic(t testing.TB, dir string, extra ...string) *Recap {
	t.Helper()
	pb, diags := Load("../testdata/playbooks/basic/site.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	recap, diags, err := Run(context.Background(), pb, Options{ExtraVars: append([]string{"dir=" + dir}, extra...)})
	if diags.HasErrors() || err != nil {
		t.Fatal(diags, err)
	}
	return recap
}

// TestIdempotent: the second run of a converged playbook changes nothing,
// and touches no file.
func TestIdempotent(t *testing.T) {
	dir := t.TempDir()
	first := runBasic(t, dir)
	if first.Changed == 0 || first.Failed != 0 {
		t.Fatalf("first run: %s", first.Summary())
	}
	conf := filepath.Join(dir, "conf", "main.conf")
	before, err := os.Stat(conf)
	if err != nil {
		t.Fatal(err)
	}
	second := runBasic(t, dir)
	if second.Changed != 0 || second.Failed != 0 {
		t.Fatalf("second run: %s, want changed=0", second.Summary())
	}
	after, _ := os.Stat(conf)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("the converged run rewrote main.conf")
	}
	log, _ := os.ReadFile(filepath.Join(dir, "announce.log"))
	if strings.Count(string(log), "changed") != 1 {
		t.Fatalf("handler ran %d times, want once (notified only by a change)", strings.Count(string(log), "changed"))
	}
	third := runBasic(t, dir, "replicas=3")
	if third.Changed != 3 { // main.conf, app_3.conf and the handler
		t.Fatalf("replicas=3 run: %s, want changed=3", third.Summary())
	}
}

func TestTemplateRendersLoopValues(t *testing.T) {
	dir := t.TempDir()
	runBasic(t, dir, "greeting=hi")
	got, err := os.ReadFile(filepath.Join(dir, "conf", "app_2.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "name=app_2 index=1 upper=APP_2\n" {
		t.Fatalf("app_2.conf = %q", got)
	}
	main, _ := os.ReadFile(filepath.Join(dir, "conf", "main.conf"))
	if !strings.HasPrefix(string(main), "# hi\n") {
		t.Fatalf("main.conf = %q", main)
	}
}

// TestShippedPlaybookValidates keeps playbooks/app.hcl and its roles loadable.
func TestShippedPlaybookValidates(t *testing.T) {
	for _, file := range []string{"../playbooks/app.hcl"} {
		pb, diags := Load(file)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", file, diags)
		}
		if diags := Validate(pb, nil); diags.HasErrors() {
			t.Fatalf("%s: %s", file, diags)
		}
		tags := strings.Join(pb.Tags(), ",")
		for _, want := range []string{"provision", "upgrade", "teardown", "never"} {
			if !strings.Contains(tags, want) {
				t.Errorf("%s: tags %s lack %s", file, tags, want)
			}
		}
	}
}
