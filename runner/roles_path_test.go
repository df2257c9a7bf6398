package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zdplay/zdplay"
)

// usesRollout is a playbook of a user's, anywhere, that includes the
// shipped rollout module by name.
const usesRollout = `
play "p" { roles = ["deploy"] }
role "deploy" {
  include "rollout" {
    vars = {
      stack    = { source = "compose.yaml", service = "app", project = "p", dir = "/tmp/p", compose = "/tmp/p/c.yml", port = 8000, proxy = "nginx", proxy_image = "nginx", haproxy_image = "haproxy", health_path = "/ping", migrate = [], health_timeout = "5s", proxy_next_upstream = true, slots = 4, env = {} }
      app      = { services = ["app_1"], version = "2", app_port = 3000, update_config = {} }
      fallback = "1"
    }
  }
}
`

func writePlaybook(t *testing.T, src string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// A shipped role is found by name from a playbook with no roles/ near it,
// extracted once into a directory named by its content (a second load uses
// the same one), and validated as any role: its templates are files there.
func TestShippedRoleFromAnywhere(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	file := writePlaybook(t, usesRollout)

	if _, diags := Load(file); !diags.HasErrors() || !strings.Contains(diags.Error(), `Unknown role "rollout"`) {
		t.Fatalf("without the shipped roles: %v, want Unknown role", diags)
	}
	pb, diags := LoadWith(file, LoadOptions{Shipped: zdplay.Shipped})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if diags := Validate(pb, nil); diags.HasErrors() {
		t.Fatal(diags)
	}
	dir := pb.Roles["rollout"].Dir
	if !strings.HasPrefix(dir, filepath.Join(cache, "zdplay")+string(filepath.Separator)) {
		t.Fatalf("rollout's path.role is %s, want under %s/zdplay", dir, cache)
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "templates", "nginx.conf.tmpl")); err != nil {
		t.Fatal("the shipped templates were not extracted beside the roles:", err)
	}
	again, diags := LoadWith(file, LoadOptions{Shipped: zdplay.Shipped})
	if diags.HasErrors() || again.Roles["rollout"].Dir != dir {
		t.Fatalf("second load: %v, role dir %s, want %s", diags, again.Roles["rollout"].Dir, dir)
	}
}

// The order: roles/ beside the playbook, the roles path in order, then the
// shipped roles.
func TestRoleSearchOrder(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	role := func(task string) string { return `task "command" "` + task + `" { argv = ["true"] }` }
	shipped := fstest.MapFS{"roles/r.hcl": {Data: []byte(role("shipped"))}}
	pathA, pathB := t.TempDir(), t.TempDir()
	file := writePlaybook(t, `play "p" { roles = ["r"] }`)
	taskOf := func(opts LoadOptions) string {
		t.Helper()
		pb, diags := LoadWith(file, opts)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return pb.Roles["r"].Steps[0].(*TaskDecl).Name
	}
	opts := LoadOptions{RolesPath: []string{pathA, pathB}, Shipped: shipped}
	if got := taskOf(opts); got != "shipped" {
		t.Fatalf("only shipped: got %q", got)
	}
	write := func(dir, task string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "r.hcl"), []byte(role(task)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(pathB, "b")
	if got := taskOf(opts); got != "b" {
		t.Fatalf("roles path before shipped: got %q", got)
	}
	write(pathA, "a")
	if got := taskOf(opts); got != "a" {
		t.Fatalf("roles path in order: got %q", got)
	}
	write(filepath.Join(filepath.Dir(file), "roles"), "beside")
	if got := taskOf(opts); got != "beside" {
		t.Fatalf("beside the playbook first: got %q", got)
	}
}

// Not found: the error lists every place searched.
func TestUnknownRoleSaysWhereItLooked(t *testing.T) {
	file := writePlaybook(t, `play "p" { roles = ["nowhere"] }`)
	_, diags := LoadWith(file, LoadOptions{RolesPath: []string{"/opt/roles"}, Shipped: fstest.MapFS{}})
	msg := diags.Error()
	for _, want := range []string{filepath.Join(filepath.Dir(file), "roles"), "/opt/roles", shippedLabel, "--roles-path"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
}

// A new extraction removes the extractions nothing used for a week, and
// keeps recent ones and anything that is not an extraction.
func TestShippedExtractionsArePruned(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	base := filepath.Join(cache, "zdplay")
	old, recent, other := filepath.Join(base, "0123456789abcdef"), filepath.Join(base, "fedcba9876543210"), filepath.Join(base, "mine")
	for _, d := range []string{old, recent, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	weekAgo := time.Now().Add(-shippedKeep - time.Hour)
	for _, d := range []string{old, other} {
		if err := os.Chtimes(d, weekAgo, weekAgo); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := extractShipped(fstest.MapFS{"roles/r.hcl": {Data: []byte("# r\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("an extraction unused for over a week is still there (%v)", err)
	}
	for _, d := range []string{recent, other, dir} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}
