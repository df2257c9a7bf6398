// Package swarmlab starts a Docker Swarm of several nodes on one machine, for
// zdplay's end-to-end tests and for a human (testdata/swarm/lab.sh, `make
// swarm-lab`).
//
// Each node is a dockerd in its own network namespace (`ip netns add`), joined
// to the others by a veth pair on a private bridge that only the lab uses; the
// host reaches every node at its bridge address. Each daemon has its own
// --data-root, --exec-root, --pidfile, unix socket and --bip under one temp
// directory, an empty --config-file (the host's daemon.json is never read),
// and the host engine's storage driver. Images go in from the host engine by
// `docker save` into each node's image load API (no registry). Node 1
// initializes the Swarm, advertising its bridge address; the others join as
// workers.
//
// Safety: no daemon ever runs in the host's network namespace; the host
// engine is only read from (image save); the only host state changed is the
// bridge, the namespaces and one FORWARD ACCEPT rule for the bridge, all
// removed by Down; processes are stopped only by the pids their pidfiles
// (and their namespaces) name.
package swarmlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Node is one dockerd of the lab.
type Node struct {
	Name    string // "n1"
	Netns   string // ip netns name
	Addr    string // its address on the lab bridge, "10.89.7.11"
	Dir     string // its data under the lab's dir
	Socket  string // unix socket path of its daemon
	Manager bool
}

// Host is the node's Docker endpoint, "unix:///tmp/zdlab-.../n1/docker.sock".
func (n Node) Host() string { return "unix://" + n.Socket }

// Lab is a running lab; its State file (Dir/lab.json) lets another process
// tear it down.
type Lab struct {
	ID     string // short random id, part of every name
	Dir    string // everything the lab writes
	Bridge string // the host-side bridge
	Subnet string // "10.89.7.0/24"
	HostIP string // the bridge's address on the host side
	Nodes  []Node
	// RuleAdded records that the FORWARD rule was inserted (and so must go).
	RuleAdded bool
}

// Manager is node 1, the Swarm's manager.
func (l *Lab) Manager() Node { return l.Nodes[0] }

// Options configures Up.
type Options struct {
	Nodes  int      // default 3
	Images []string // loaded from the host engine into every node
	// Log receives progress lines; nil: none.
	Log func(format string, args ...any)
}

// CanRun says why a lab cannot be started here ("" when it can): it needs
// root, ip, nsenter, iptables and dockerd, and a network namespace must be
// creatable.
func CanRun() string {
	if os.Geteuid() != 0 {
		return "the Swarm lab needs root (network namespaces, a bridge, iptables)"
	}
	for _, bin := range []string{"ip", "nsenter", "iptables", "dockerd"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "the Swarm lab needs " + bin + " on PATH"
		}
	}
	name := "zdlab-probe-" + randomID()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return "cannot create a network namespace here (ip netns add: " + strings.TrimSpace(string(out)) + ")"
	}
	_ = exec.Command("ip", "netns", "del", name).Run()
	return ""
}

func randomID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Up starts the lab. On error what was started is torn down.
func Up(ctx context.Context, o Options) (lab *Lab, err error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	driver, err := hostStorageDriver(ctx)
	if err != nil {
		return nil, err
	}
	id := randomID()
	dir, err := os.MkdirTemp("", "zdlab-"+id+"-")
	if err != nil {
		return nil, err
	}
	third, err := freeThirdOctet()
	if err != nil {
		return nil, err
	}
	l := &Lab{
		ID:     id,
		Dir:    dir,
		Bridge: "zdlab" + id,
		Subnet: fmt.Sprintf("10.89.%d.0/24", third),
		HostIP: fmt.Sprintf("10.89.%d.1", third),
	}
	defer func() {
		if err != nil {
			_ = l.Down(context.Background())
			lab = nil
		}
	}()
	for i := 1; i <= o.Nodes; i++ {
		name := fmt.Sprintf("n%d", i)
		l.Nodes = append(l.Nodes, Node{
			Name:    name,
			Netns:   fmt.Sprintf("zdlab-%s-%s", id, name),
			Addr:    fmt.Sprintf("10.89.%d.%d", third, 10+i),
			Dir:     filepath.Join(dir, name),
			Socket:  filepath.Join(dir, name, "docker.sock"),
			Manager: i == 1,
		})
	}
	if err := l.save(); err != nil {
		return nil, err
	}
	if err := l.network(); err != nil {
		return nil, err
	}
	logf("lab %s: bridge %s (%s), %d namespaces", id, l.Bridge, l.Subnet, len(l.Nodes))

	errs := make(chan error, len(l.Nodes))
	for i := range l.Nodes {
		go func(n Node, i int) { errs <- startDaemon(ctx, n, i, driver) }(l.Nodes[i], i)
	}
	for range l.Nodes {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return nil, err
	}
	logf("lab %s: %d daemons answer", id, len(l.Nodes))

	if len(o.Images) > 0 {
		if err := l.LoadImages(ctx, o.Images...); err != nil {
			return nil, err
		}
		logf("lab %s: images loaded into every node: %s", id, strings.Join(o.Images, " "))
	}
	if err := l.swarm(ctx); err != nil {
		return nil, err
	}
	logf("lab %s: swarm of %d nodes, manager %s", id, len(l.Nodes), l.Manager().Addr)
	return l, nil
}

// hostStorageDriver is the host engine's storage driver (docker info): a
// node's data root sits on the same filesystem.
func hostStorageDriver(ctx context.Context) (string, error) {
	c, err := client.New(client.WithHostFromEnv())
	if err != nil {
		return "", err
	}
	defer c.Close()
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("swarmlab: the host engine (for its storage driver and the images): %w", err)
	}
	return info.Info.Driver, nil
}

// freeThirdOctet picks 10.89.X.0/24 with X used by no address on the host,
// so that two labs (a test and a human's) can run at once.
func freeThirdOctet() (int, error) {
	out, err := exec.Command("ip", "-o", "addr").Output()
	if err != nil {
		return 0, fmt.Errorf("ip -o addr: %w", err)
	}
	for x := 0; x < 256; x++ {
		if !strings.Contains(string(out), fmt.Sprintf(" 10.89.%d.", x)) {
			return x, nil
		}
	}
	return 0, errors.New("swarmlab: every 10.89.X.0/24 is in use")
}

func run(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// forwardRule is the host FORWARD rule that lets the bridge's traffic
// through (the host's policy is DROP and bridged frames go through it).
func (l *Lab) forwardRule() []string {
	return []string{"FORWARD", "-i", l.Bridge, "-o", l.Bridge, "-j", "ACCEPT"}
}

// network makes the bridge, the namespaces, a veth pair per node and the
// FORWARD rule.
func (l *Lab) network() error {
	if err := run("ip", "link", "add", l.Bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := run("ip", "addr", "add", l.HostIP+"/24", "dev", l.Bridge); err != nil {
		return err
	}
	if err := run("ip", "link", "set", l.Bridge, "up"); err != nil {
		return err
	}
	if err := run(append([]string{"iptables", "-I"}, l.forwardRule()...)...); err != nil {
		return err
	}
	l.RuleAdded = true
	if err := l.save(); err != nil {
		return err
	}
	for i, n := range l.Nodes {
		host, peer := fmt.Sprintf("zdl%sh%d", l.ID, i+1), fmt.Sprintf("zdl%sn%d", l.ID, i+1)
		in := []string{"ip", "-n", n.Netns}
		for _, argv := range [][]string{
			{"ip", "netns", "add", n.Netns},
			{"ip", "link", "add", host, "type", "veth", "peer", "name", peer},
			{"ip", "link", "set", host, "master", l.Bridge, "up"},
			{"ip", "link", "set", peer, "netns", n.Netns},
			append(in, "link", "set", peer, "name", "eth0"),
			append(in, "addr", "add", n.Addr+"/24", "dev", "eth0"),
			append(in, "link", "set", "eth0", "up"),
			append(in, "link", "set", "lo", "up"),
		} {
			if err := run(argv...); err != nil {
				return err
			}
		}
	}
	return nil
}

// startDaemon starts n's dockerd inside its namespace (nsenter --net, not
// ip netns exec, which remounts sysfs) in its own session, so that it
// outlives a `lab.sh up`, and waits until it answers.
func startDaemon(ctx context.Context, n Node, i int, driver string) error {
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		return err
	}
	config := filepath.Join(n.Dir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(n.Dir, "dockerd.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command("nsenter", "--net=/run/netns/"+n.Netns, "dockerd",
		"--config-file", config,
		"--data-root", filepath.Join(n.Dir, "data"),
		"--exec-root", filepath.Join(n.Dir, "exec"),
		"--pidfile", filepath.Join(n.Dir, "dockerd.pid"),
		"-H", n.Host(),
		"--bip", fmt.Sprintf("10.90.%d.1/24", i+1),
		"--storage-driver", driver,
		"--shutdown-timeout", "3",
		"--userland-proxy=false",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("swarmlab: start dockerd of %s: %w", n.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	c, err := n.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case e := <-exited:
			return fmt.Errorf("swarmlab: dockerd of %s exited (%v): see %s", n.Name, e, logFile.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("swarmlab: dockerd of %s did not answer within 60s: see %s", n.Name, logFile.Name())
		}
	}
}

// Client is a connection to n's daemon (API version negotiated).
func (n Node) Client() (*client.Client, error) {
	return client.New(client.WithHost(n.Host()))
}

// LoadImages saves the images from the host engine once and loads them into
// every node at once.
func (l *Lab) LoadImages(ctx context.Context, images ...string) error {
	host, err := client.New(client.WithHostFromEnv())
	if err != nil {
		return err
	}
	defer host.Close()
	tarPath := filepath.Join(l.Dir, "images.tar")
	rc, err := host.ImageSave(ctx, images)
	if err != nil {
		return fmt.Errorf("swarmlab: docker save %s from the host engine: %w", strings.Join(images, " "), err)
	}
	f, err := os.Create(tarPath)
	if err != nil {
		rc.Close()
		return err
	}
	_, err = io.Copy(f, rc)
	rc.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("swarmlab: docker save: %w", err)
	}
	defer os.Remove(tarPath)

	errs := make(chan error, len(l.Nodes))
	for _, n := range l.Nodes {
		go func(n Node) { errs <- loadInto(ctx, n, tarPath) }(n)
	}
	for range l.Nodes {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	return err
}

func loadInto(ctx context.Context, n Node, tarPath string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := n.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("swarmlab: image load into %s: %w", n.Name, err)
	}
	defer res.Close()
	out, err := io.ReadAll(res)
	if err != nil {
		return fmt.Errorf("swarmlab: image load into %s: %w", n.Name, err)
	}
	if strings.Contains(string(out), `"error"`) {
		return fmt.Errorf("swarmlab: image load into %s: %s", n.Name, out)
	}
	return nil
}

// swarm inits the Swarm on node 1 and joins the others as workers.
func (l *Lab) swarm(ctx context.Context) error {
	m := l.Manager()
	mc, err := m.Client()
	if err != nil {
		return err
	}
	defer mc.Close()
	if _, err := mc.SwarmInit(ctx, client.SwarmInitOptions{
		ListenAddr:    m.Addr + ":2377",
		AdvertiseAddr: m.Addr + ":2377",
		// Overlay subnets away from the lab's 10.89/16 and the host's.
		DefaultAddrPool: []netip.Prefix{netip.MustParsePrefix("10.200.0.0/16")},
		SubnetSize:      24,
		Spec: swarm.Spec{
			Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: ptr(int64(5))},
			Dispatcher:    swarm.DispatcherConfig{HeartbeatPeriod: 2 * time.Second},
		},
	}); err != nil {
		return fmt.Errorf("swarmlab: swarm init on %s: %w", m.Name, err)
	}
	sw, err := mc.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	for _, n := range l.Nodes[1:] {
		c, err := n.Client()
		if err != nil {
			return err
		}
		_, err = c.SwarmJoin(ctx, client.SwarmJoinOptions{
			ListenAddr:    n.Addr + ":2377",
			AdvertiseAddr: n.Addr + ":2377",
			RemoteAddrs:   []string{m.Addr + ":2377"},
			JoinToken:     sw.Swarm.JoinTokens.Worker,
		})
		c.Close()
		if err != nil {
			return fmt.Errorf("swarmlab: %s joining the swarm: %w", n.Name, err)
		}
	}
	// Every node ready.
	deadline := time.Now().Add(30 * time.Second)
	for {
		nodes, err := mc.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes.Items {
			if n.Status.State == swarm.NodeStateReady {
				ready++
			}
		}
		if ready == len(l.Nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("swarmlab: %d of %d nodes ready after 30s", ready, len(l.Nodes))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

// NodeID is the Swarm node ID of the lab node named name ("n2").
func (l *Lab) NodeID(ctx context.Context, name string) (string, error) {
	for _, n := range l.Nodes {
		if n.Name != name {
			continue
		}
		c, err := n.Client()
		if err != nil {
			return "", err
		}
		defer c.Close()
		info, err := c.Info(ctx, client.InfoOptions{})
		if err != nil {
			return "", err
		}
		return info.Info.Swarm.NodeID, nil
	}
	return "", fmt.Errorf("swarmlab: no node %q", name)
}

func (l *Lab) save() error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(l.Dir, "lab.json"), b, 0o600)
}

// Load reads the state a lab's Up wrote into dir.
func Load(dir string) (*Lab, error) {
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return nil, err
	}
	l := &Lab{}
	return l, json.Unmarshal(b, l)
}

// Down tears the lab down, whatever state it is in: swarm leave, each daemon
// stopped by its pidfile (SIGTERM, then SIGKILL after 20s), what is left in
// its namespace killed by pid, the mounts under its directory unmounted, the
// namespaces, the bridge and the rule deleted, the directory removed. It
// goes on past errors and returns them all.
func (l *Lab) Down(ctx context.Context) error {
	var errs []error
	for _, n := range l.Nodes {
		if c, err := n.Client(); err == nil {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, _ = c.SwarmLeave(lctx, client.SwarmLeaveOptions{Force: true})
			cancel()
			c.Close()
		}
	}
	done := make(chan error, len(l.Nodes))
	for _, n := range l.Nodes {
		go func(n Node) { done <- stopDaemon(n) }(n)
	}
	for range l.Nodes {
		if err := <-done; err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range l.Nodes {
		killNamespace(n.Netns)
	}
	if err := unmountUnder(l.Dir); err != nil {
		errs = append(errs, err)
	}
	for _, n := range l.Nodes {
		if _, err := os.Stat("/run/netns/" + n.Netns); err == nil {
			if err := run("ip", "netns", "del", n.Netns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + l.Bridge); err == nil {
		if err := run("ip", "link", "del", l.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	if l.RuleAdded {
		if err := run(append([]string{"iptables", "-D"}, l.forwardRule()...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(l.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopDaemon stops the dockerd whose pid n's pidfile holds.
func stopDaemon(n Node) error {
	b, err := os.ReadFile(filepath.Join(n.Dir, "dockerd.pid"))
	if err != nil {
		return nil // never started
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("swarmlab: bad pidfile of %s: %q", n.Name, b)
	}
	// The pid must still be a dockerd in n's namespace (not a reused pid).
	if !inNamespace(pid, n.Netns) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		reap(pid)
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return nil
}

// reap collects pid if it is our child (started by Up in this process).
func reap(pid int) {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}

// inNamespace says whether pid runs in the named network namespace.
func inNamespace(pid int, netns string) bool {
	var st1, st2 syscall.Stat_t
	if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st1) != nil {
		return false
	}
	if syscall.Stat("/run/netns/"+netns, &st2) != nil {
		return false
	}
	return st1.Ino == st2.Ino && st1.Dev == st2.Dev
}

// killNamespace SIGKILLs what still runs in the namespace once its daemon is
// gone (a containerd-shim, a container's process): the pids `ip netns pids`
// names, never a name pattern.
func killNamespace(netns string) {
	out, err := exec.Command("ip", "netns", "pids", netns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(200 * time.Millisecond)
}

// unmountUnder lazily unmounts every mount point under dir (the netns files
// dockerd binds under its exec root, overlay mounts of containers), deepest
// first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	var errs []error
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("umount %s: %w", points[i], err))
		}
	}
	return errors.Join(errs...)
}
