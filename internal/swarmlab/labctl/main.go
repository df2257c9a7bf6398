// Command labctl starts and stops the Swarm lab of package swarmlab for a
// human (testdata/swarm/lab.sh, `make swarm-lab`):
//
//	labctl up [-nodes 3] [-state FILE] [IMAGE...]   # prints the nodes' endpoints
//	labctl down [-state FILE]
//
// The state file (default .zdplay/swarm-lab) names the lab's directory, so
// that down finds what up started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/zdplay/zdplay/internal/swarmlab"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: labctl up [-nodes N] [-state FILE] [IMAGE...] | labctl down [-state FILE]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	nodes := fs.Int("nodes", 3, "how many nodes")
	state := fs.String("state", ".zdplay/swarm-lab", "file that records the running lab's directory")
	_ = fs.Parse(os.Args[2:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1], *nodes, *state, fs.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "labctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string, nodes int, state string, images []string) error {
	if cmd == "down" {
		b, err := os.ReadFile(state)
		if err != nil {
			return fmt.Errorf("no lab recorded in %s: %w", state, err)
		}
		lab, err := swarmlab.Load(strings.TrimSpace(string(b)))
		if err != nil {
			return err
		}
		start := time.Now()
		if err := lab.Down(ctx); err != nil {
			return err
		}
		fmt.Printf("lab %s torn down in %s\n", lab.ID, time.Since(start).Round(10*time.Millisecond))
		return os.Remove(state)
	}
	if b, err := os.ReadFile(state); err == nil {
		return fmt.Errorf("a lab is already recorded in %s (%s): labctl down first", state, strings.TrimSpace(string(b)))
	}
	if why := swarmlab.CanRun(); why != "" {
		return fmt.Errorf("%s", why)
	}
	start := time.Now()
	lab, err := swarmlab.Up(ctx, swarmlab.Options{Nodes: nodes, Images: images,
		Log: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(state, []byte(lab.Dir+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("lab %s up in %s\n", lab.ID, time.Since(start).Round(10*time.Millisecond))
	for _, n := range lab.Nodes {
		role := "worker"
		if n.Manager {
			role = "manager"
		}
		fmt.Printf("  %s %-7s %s  DOCKER_HOST=%s\n", n.Name, role, n.Addr, n.Host())
	}
	fmt.Printf("deploy: zdplay run playbooks/swarm.hcl -t provision -e docker_host=%s\n", lab.Manager().Host())
	return nil
}
