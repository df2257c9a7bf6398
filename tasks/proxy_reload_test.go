package tasks

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdplay/zdplay/internal/errtest"
	"github.com/zdplay/zdplay/internal/proxy"
)

func TestProxyReloadSkipsWhenApplied(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile(filepath.Join(dir, "default.conf"), []byte("same"), 0o644)
	os.WriteFile(filepath.Join(dir, "default.conf.good"), []byte("same"), 0o644)
	// No compose file and no Shared: an applied conf needs neither.
	task := &ProxyReload{File: "compose.yaml", Project: "p", Conf: "default.conf"}
	res, err := task.Apply(context.Background(), &Env{BaseDir: dir})
	if err != nil || res.Changed || !strings.Contains(res.Msg, "already serves") {
		t.Fatalf("%+v %v", res, err)
	}
	_, err = (&ProxyReload{File: "compose.yaml", Project: "p", Conf: "nope.conf"}).Apply(context.Background(), &Env{BaseDir: dir})
	errtest.Says(t, err, "nope.conf", "render it first")
}

// nginxImage is the colleague's image built by `make images`.
const nginxImage = "zdplay-demo/nginx:local"

const nginxGood = `upstream app {
    server app_1:3000;
}
server {
    listen 80;
    location / {
        proxy_pass http://app;
    }
}
`

func TestProxyReloadWithNginx(t *testing.T) {
	dkEngine(t)
	if err := exec.Command("docker", "image", "inspect", nginxImage).Run(); err != nil {
		t.Skipf("image %s is not present (make images builds it): %v", nginxImage, err)
	}
	env, project := dkEnv(t, `
services:
  proxy:
    image: `+nginxImage+`
    volumes:
      - ./nginx:/etc/nginx/conf.d:ro
    depends_on: [app_1]
  app_1:
    image: zdplay-test/tiny:1
    environment: {TINY_VERSION: "1"}
`)
	ndir := filepath.Join(env.BaseDir, "nginx")
	os.Mkdir(ndir, 0o755)
	conf := filepath.Join(ndir, "default.conf")
	os.WriteFile(conf, []byte(nginxGood), 0o644)
	dkRun(t, env, &ComposeUp{File: "compose.yaml", Project: project}, true)
	dkRun(t, env, &WaitHealthy{File: "compose.yaml", Project: project, Service: "app_1"}, true)
	dkRun(t, env, &WaitHealthy{File: "compose.yaml", Project: project, Service: "proxy", Port: 80}, true)

	reload := &ProxyReload{File: "compose.yaml", Project: project, Conf: "nginx/default.conf"}
	if res := dkRun(t, env, reload, false); !res.Changed {
		t.Fatalf("check without .good: %+v", res)
	}
	c := dkClient(t, env)
	nginx := dkContainer(t, env, project, "proxy")
	before, _ := c.Top(context.Background(), nginx.ID)
	start := time.Now()
	res := dkRun(t, env, reload, true)
	t.Logf("proxy_reload: %s (%s)", time.Since(start).Round(time.Millisecond), res.Msg)
	if !res.Changed {
		t.Fatalf("%+v", res)
	}
	after, _ := c.Top(context.Background(), nginx.ID)
	if old, now := proxy.NginxWorkers(before), proxy.NginxWorkers(after); len(now) == 0 || len(old) == 0 {
		t.Fatalf("workers before %v, after %v", before, after)
	} else {
		for pid := range old {
			if now[pid] {
				t.Errorf("old worker %s still runs after proxy_reload returned: %v", pid, after)
			}
		}
	}
	if good, _ := os.ReadFile(conf + ".good"); string(good) != nginxGood {
		t.Errorf(".good = %q", good)
	}
	if res := dkRun(t, env, reload, true); res.Changed {
		t.Fatalf("second reload: %+v", res)
	}

	// An in-flight request keeps the old worker: proxy_reload waits for it.
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + nginx.IP + ":80/slow?ms=1500")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	time.Sleep(300 * time.Millisecond) // the request reaches the worker
	start = time.Now()
	res = dkRun(t, env, &ProxyReload{File: "compose.yaml", Project: project, Conf: "nginx/default.conf", Force: true}, true)
	took := time.Since(start)
	t.Logf("proxy_reload with a 1.5s request in flight: %s (%s)", took.Round(time.Millisecond), res.Msg)
	select {
	case got := <-slow:
		if got != "slow done after 1500ms\n" {
			t.Errorf("in-flight request: %q", got)
		}
	case <-time.After(2 * time.Second):
		t.Error("the in-flight request did not finish")
	}
	if took < time.Second {
		t.Errorf("proxy_reload did not wait for the old worker: %s", took)
	}

	// A conf nginx rejects: restored, nothing reloaded, nginx still serves.
	workers, _ := c.Top(context.Background(), nginx.ID)
	os.WriteFile(conf, []byte("bogus_directive on;\n"+nginxGood), 0o644)
	if res := dkRun(t, env, reload, false); !res.Changed {
		t.Fatalf("check with a new conf: %+v", res)
	}
	_, err := reload.Apply(context.Background(), env)
	t.Logf("rejected conf: %v", err)
	errtest.Says(t, err, `unknown directive "bogus_directive"`, "restored the last good default.conf")
	if b, _ := os.ReadFile(conf); string(b) != nginxGood {
		t.Errorf("conf not restored: %q", b)
	}
	if now, _ := c.Top(context.Background(), nginx.ID); len(proxy.NginxWorkers(now)) != len(proxy.NginxWorkers(workers)) {
		t.Errorf("workers changed: %v -> %v", workers, now)
	}
	resp, err := http.Get("http://" + nginx.IP + ":80/ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "pong v1\n" {
		t.Errorf("through nginx: %d %q", resp.StatusCode, body)
	}

	// No good copy: the rejected conf stays.
	os.Remove(conf + ".good")
	os.WriteFile(conf, []byte("bogus_directive on;\n"), 0o644)
	_, err = reload.Apply(context.Background(), env)
	errtest.Says(t, err, "no last good copy", "left as is")
	if b, _ := os.ReadFile(conf); string(b) != "bogus_directive on;\n" {
		t.Errorf("conf changed: %q", b)
	}
}
