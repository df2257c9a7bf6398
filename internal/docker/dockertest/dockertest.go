// Package dockertest helps tests run against the real Docker engine: it
// builds a tiny throwaway image (no registry is reachable, so nothing can be
// pulled) and names and tears down throwaway compose projects.
//
// The image, zdplay-test/tiny:1 and :2 (the same static binary, two image IDs),
// runs an HTTP server on :3000:
//
//	GET /ping -> 200 "pong v<TINY_VERSION>", or TINY_PING_STATUS when set
//	GET /slow?ms=N -> 200 after N milliseconds
//	/tiny -check -> exits 0 when GET localhost:3000/ping answers 200 (a healthcheck)
//	TINY_EXIT=N -> exits with code N at once
//	SIGTERM -> shuts down and exits 0
package dockertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Images are the tags Build makes.
var Images = []string{"zdplay-test/tiny:1", "zdplay-test/tiny:2"}

// Label marks every image and project these helpers make.
const Label = "zdplay.test"

// ProjectPrefix starts the name of every compose project the tests create.
const ProjectPrefix = "zdplaytest-"

// Stack is the compose file the Docker tests of internal/docker and tasks
// share: db, app_1 (a healthcheck, stop_grace_period 3s) and app_2, all on
// the tiny image.
const Stack = `
services:
  db:
    image: zdplay-test/tiny:1
    environment: {TINY_VERSION: db}
  app_1:
    image: zdplay-test/tiny:1
    environment: {TINY_VERSION: "1"}
    depends_on: [db]
    stop_grace_period: 3s
    healthcheck:
      test: ["CMD", "/tiny", "-check"]
      interval: 250ms
      timeout: 2s
      retries: 3
  app_2:
    image: zdplay-test/tiny:1
    environment: {TINY_VERSION: "1"}
    depends_on: [db]
`

const tinyMain = `package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-check" {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:3000/ping")
		if err != nil {
			fmt.Println("check:", err)
			os.Exit(1)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fmt.Println("check: /ping answered", resp.StatusCode)
			os.Exit(1)
		}
		fmt.Println("check: ok")
		return
	}
	if v := os.Getenv("TINY_EXIT"); v != "" {
		n, _ := strconv.Atoi(v)
		fmt.Println("exiting with", n)
		os.Exit(n)
	}
	status := 200
	if v := os.Getenv("TINY_PING_STATUS"); v != "" {
		status, _ = strconv.Atoi(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprintf(w, "pong v%s\n", os.Getenv("TINY_VERSION"))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slow done after %dms\n", ms)
	})
	srv := &http.Server{Addr: ":3000", Handler: mux}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Println(err)
		os.Exit(1)
	}
}
`

// Build makes zdplay-test/tiny:1 and :2 unless images built from the same
// source are already there. It needs the go tool and the docker CLI
// (classic builder: DOCKER_BUILDKIT=0, no buildx here).
func Build(ctx context.Context) error {
	sum := sha256.Sum256([]byte(tinyMain))
	rev := hex.EncodeToString(sum[:8])
	upToDate := true
	for _, img := range Images {
		out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "-f", `{{index .Config.Labels "`+Label+`.rev"}}`, img).Output()
		if err != nil || strings.TrimSpace(string(out)) != rev {
			upToDate = false
		}
	}
	if upToDate {
		return nil
	}
	dir, err := os.MkdirTemp("", "zdplay-tiny-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"main.go":    tinyMain,
		"go.mod":     "module tiny\n\ngo 1.21\n",
		"Dockerfile": "FROM scratch\nCOPY tiny /tiny\nEXPOSE 3000\nENTRYPOINT [\"/tiny\"]\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	gobuild := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", "tiny", ".")
	gobuild.Dir = dir
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := gobuild.CombinedOutput(); err != nil {
		return fmt.Errorf("go build of the tiny test server: %v\n%s", err, out)
	}
	for i, img := range Images {
		build := exec.CommandContext(ctx, "docker", "build", "-q",
			"--label", Label+"=1", "--label", Label+".rev="+rev, "--label", fmt.Sprintf("%s.version=%d", Label, i+1),
			"-t", img, dir)
		build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("docker build -t %s: %v\n%s", img, err, out)
		}
	}
	return nil
}

// Engine is what a package's engine tests need before they run: skip is
// why they cannot ("" when an engine answers), and once one answers the
// test images are built (Build), err saying why they could not be.
func Engine(ctx context.Context) (skip string, err error) {
	if err := Reachable(ctx); err != nil {
		return "no Docker engine reachable: " + err.Error(), nil
	}
	return "", Build(ctx)
}

// Reachable reports whether the docker CLI reaches an engine (within 5s).
func Reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "-f", "{{.Server.APIVersion}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

var seq atomic.Int64

// ProjectName returns a fresh compose project name, "zdplaytest-<pid>-<n>".
func ProjectName() string {
	return fmt.Sprintf("%s%d-%d", ProjectPrefix, os.Getpid(), seq.Add(1))
}

// WriteFile writes body to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// RemoveProject removes every container, network and volume labelled with the
// compose project name (only names starting with ProjectPrefix are accepted):
// a cleanup that needs no compose file and no zdplay code.
func RemoveProject(projectName string) error {
	if !strings.HasPrefix(projectName, ProjectPrefix) {
		return fmt.Errorf("refusing to remove project %q: not a test project (%s*)", projectName, ProjectPrefix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	filter := "label=com.docker.compose.project=" + projectName
	var errs []string
	run := func(args ...string) string {
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Sprintf("docker %s: %v: %s", strings.Join(args, " "), err, out))
		}
		return string(out)
	}
	if ids := strings.Fields(run("ps", "-aq", "--filter", filter)); len(ids) > 0 {
		run(append([]string{"rm", "-f", "-v"}, ids...)...)
	}
	if ids := strings.Fields(run("network", "ls", "-q", "--filter", filter)); len(ids) > 0 {
		run(append([]string{"network", "rm"}, ids...)...)
	}
	if ids := strings.Fields(run("volume", "ls", "-q", "--filter", filter)); len(ids) > 0 {
		run(append([]string{"volume", "rm", "-f"}, ids...)...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// Teardown removes a test project with down (the code under test: compose
// Down with volumes), checks that nothing of it is left, and falls back to
// RemoveProject when something is. A project it cannot remove fails the test.
func Teardown(t testing.TB, projectName string, down func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := down(ctx)
	left, lerr := Leftovers(ctx, projectName)
	if err == nil && lerr == nil && left == "" {
		return
	}
	t.Logf("compose down of %s: %v; left: %s %v; removing by label", projectName, err, left, lerr)
	if err := RemoveProject(projectName); err != nil {
		t.Errorf("test project %s not removed: %v", projectName, err)
	}
}

// Leftovers names what is left of a project: containers, networks, volumes.
func Leftovers(ctx context.Context, projectName string) (string, error) {
	filter := "label=com.docker.compose.project=" + projectName
	var left []string
	for _, args := range [][]string{
		{"ps", "-a", "--format", "container {{.Names}}", "--filter", filter},
		{"network", "ls", "--format", "network {{.Name}}", "--filter", filter},
		{"volume", "ls", "--format", "volume {{.Name}}", "--filter", filter},
	} {
		out, err := exec.CommandContext(ctx, "docker", args...).Output()
		if err != nil {
			return "", fmt.Errorf("docker %s: %w", strings.Join(args, " "), err)
		}
		left = append(left, strings.Fields(strings.ReplaceAll(string(out), "\n", ","))...)
	}
	return strings.Join(left, " "), nil
}
