package tasks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// proxyUpstream is rollout.upstream as the runner passes it.
func proxyUpstream(down ...bool) cty.Value {
	var servers []cty.Value
	for i, d := range down {
		servers = append(servers, cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal("app_" + string(rune('1'+i))), "address": cty.StringVal("10.0.0." + string(rune('1'+i))), "down": cty.BoolVal(d),
		}))
	}
	return cty.ListVal(servers)
}

func TestProxyValidate(t *testing.T) {
	env := &Env{BaseDir: ".."} // the repository's templates/
	ok := Proxy{Proxy: "nginx", Action: "drain", Dir: "d", Templates: "templates", Project: "p", Upstream: proxyUpstream(true, false)}
	if err := ok.Validate(env); err != nil {
		t.Fatal(err)
	}
	h := ok
	h.Proxy = "haproxy"
	if err := h.Validate(env); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*Proxy)
		want string
	}{
		{func(p *Proxy) { p.Proxy = "traefik" }, `proxy = "traefik": the proxy is nginx or haproxy`},
		{func(p *Proxy) { p.Action = "reload" }, `action = "reload": it is setup, drain or undrain`},
		{func(p *Proxy) { p.Dir = "" }, "attribute dir is empty"},
		{func(p *Proxy) { p.DrainTimeout = "soon" }, `drain_timeout "soon" is not a duration`},
		{func(p *Proxy) { p.Templates = "nowhere" }, "nowhere/nginx.conf.tmpl"},
		{func(p *Proxy) { p.Upstream = cty.StringVal("app_1") }, "upstream must be a list"},
	} {
		bad := ok
		c.edit(&bad)
		if err := bad.Validate(env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", bad, err, c.want)
		}
	}
	if d := h.DefaultTimeout(); d.Seconds() != 45 {
		t.Errorf("haproxy's default timeout %s, want drain_timeout + 15s", d)
	}
}

// --check of an nginx drain renders the shipped template with the upstream
// and stages it (for later tasks), writing nothing.
func TestProxyCheckNginxDrain(t *testing.T) {
	dir := t.TempDir()
	env := &Env{BaseDir: "..", Shared: &Shared{}, Vars: map[string]any{"proxy_next_upstream": true}}
	task := &Proxy{Proxy: "nginx", Action: "drain", Dir: dir, Templates: "templates", Project: "p", Upstream: proxyUpstream(true, false)}
	res, err := task.Check(context.Background(), env)
	if err != nil || !res.Changed || res.Msg != "would render default.conf (app_1 down), test and reload nginx" {
		t.Fatalf("check: %+v %v", res, err)
	}
	conf := filepath.Join(dir, "nginx", "default.conf")
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Fatalf("--check wrote %s: %v", conf, err)
	}
	staged, ok := env.Shared.Staged(conf)
	if !ok || !strings.Contains(string(staged), "server 10.0.0.1:3000 max_fails=1 fail_timeout=10s down; # app_1") ||
		!strings.Contains(string(staged), "server 10.0.0.2:3000 max_fails=1 fail_timeout=10s; # app_2") {
		t.Fatalf("staged conf:\n%s", staged)
	}
	if !strings.Contains(string(staged), "proxy_next_upstream error timeout;") {
		t.Fatalf("the playbook's proxy_next_upstream did not reach the conf:\n%s", staged)
	}
	// In a module the playbook's values are not the data: vars passes them.
	module := &Env{BaseDir: "..", Shared: &Shared{}}
	task.Vars = cty.ObjectVal(map[string]cty.Value{"proxy_next_upstream": cty.True})
	if _, err := task.Check(context.Background(), module); err != nil {
		t.Fatal(err)
	}
	if staged, _ := module.Shared.Staged(conf); !strings.Contains(string(staged), "proxy_next_upstream error timeout;") {
		t.Fatalf("vars' proxy_next_upstream did not reach the conf:\n%s", staged)
	}
	setup := &Proxy{Proxy: "nginx", Action: "setup", Dir: dir, Templates: "templates", Project: "p"}
	if res, err := setup.Check(context.Background(), env); err != nil || !res.Changed || !strings.Contains(res.Msg, "would create") {
		t.Fatalf("check setup: %+v %v", res, err)
	}
}

// A server to put in without an address (its container does not run): Apply
// fails before anything is touched (no proxy container is even looked up),
// Check says it would put it in once it runs; vars must be an object.
func TestProxyNotRunningServerAndVars(t *testing.T) {
	env := &Env{BaseDir: ".."}
	up := cty.ListVal([]cty.Value{
		cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("green_1"), "address": cty.StringVal(""), "down": cty.False}),
		cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("blue_1"), "address": cty.StringVal("10.0.0.1"), "down": cty.True}),
	})
	p := Proxy{Proxy: "haproxy", Action: "drain", Dir: t.TempDir(), Templates: "templates", Project: "p", Upstream: up}
	if _, err := p.Apply(context.Background(), env); err == nil || !strings.Contains(err.Error(), "green_1 not running (no address): nothing was changed") {
		t.Fatalf("Apply: %v", err)
	}
	if res, err := p.Check(context.Background(), env); err != nil || !res.Changed || !strings.Contains(res.Msg, "would put green_1 in once they run") {
		t.Fatalf("Check: %+v %v", res, err)
	}
	p.Vars = cty.StringVal("x")
	if err := p.Validate(env); err == nil || !strings.Contains(err.Error(), "vars must be an object") {
		t.Fatalf("Validate with vars a string: %v", err)
	}
	p.Vars = cty.ObjectVal(map[string]cty.Value{"proxy_next_upstream": cty.False})
	if got := p.vars(); got["proxy_next_upstream"] != false {
		t.Fatalf("vars() = %v", got)
	}
}
