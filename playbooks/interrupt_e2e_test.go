package playbooks

// End-to-end tests of runs that do not end well: Ctrl-C and kill -9 in the
// middle of an upgrade, and a second run started while one holds the lock.
// zdplay runs here as a real process (bin/zdplay, built once), under steady
// load through the proxy.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zdplay/zdplay/internal/docker"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// zdplayBinary builds cmd/zdplay once per test binary (removed by TestMain).
func zdplayBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "zdplay-e2e-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "zdplay")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/zdplay/zdplay/cmd/zdplay").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// removeBinary removes what zdplayBinary built.
func removeBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// proc is a zdplay run started as its own process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	name   string
	lines  chan string // stdout, line by line, as it comes
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	read   chan struct{} // closed once stdout is read to its end
	exited chan struct{}
	err    error // of Wait
}

// start runs `zdplay run app.hcl` with the deploy's variables and args (as
// "-t", "upgrade", "-e", "version=0.0.2", "--check"). It is killed, if still
// running, when the test ends.
func (d *deploy) start(args ...string) *proc {
	d.t.Helper()
	argv := []string{"run", "app.hcl"}
	for _, v := range d.vars {
		argv = append(argv, "-e", v)
	}
	argv = append(argv, args...)
	p := &proc{t: d.t, cmd: exec.Command(zdplayBinary(d.t), argv...), name: strings.Join(args, " "),
		lines: make(chan string, 10000), read: make(chan struct{}), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	go func() {
		defer close(p.read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody reads that far; stdout keeps it
			}
		}
	}()
	go func() {
		<-p.read
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	d.t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		fmt.Fprintf(d.log, "--- zdplay %s (pid %d) stdout:\n%s--- stderr:\n%s", p.name, p.cmd.Process.Pid, p.Stdout(), p.Stderr())
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func (p *proc) Stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *proc) Stderr() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }
func (p *proc) pid() int       { return p.cmd.Process.Pid }

// waitLine waits for a line of output matching re and returns it.
func (p *proc) waitLine(re string, timeout time.Duration) string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(timeout)
	for {
		select {
		case line := <-p.lines:
			if rx.MatchString(line) {
				return line
			}
		case <-p.read:
			// the process ended: what is left in lines is all there is
			for {
				select {
				case line := <-p.lines:
					if rx.MatchString(line) {
						return line
					}
				default:
					p.t.Fatalf("zdplay %s ended without printing a line matching %q:\n%s%s", p.name, re, p.Stdout(), p.Stderr())
				}
			}
		case <-deadline:
			p.t.Fatalf("no line matching %q after %s:\n%s", re, timeout, p.Stdout())
		}
	}
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	// A process that already exited (a first Ctrl-C that landed between
	// two tasks stops the run at once) is no error: wait checks its status.
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("signal %v to zdplay (pid %d): %v", sig, p.pid(), err)
	}
}

// wait waits for the process to exit and returns its exit code (-1 when a
// signal killed it).
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("zdplay %s still runs after %s:\n%s", p.name, timeout, p.Stdout())
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// convergeAfterInterruption is the end of every interrupted-run test: a re-run
// finishes the upgrade (it changes something), a further one changes
// nothing, and then every replica answers at the release.
func (d *deploy) convergeAfterInterruption(version string) {
	d.t.Helper()
	recap := d.mustRun("upgrade", "version="+version)
	if recap.Changed == 0 {
		d.t.Fatalf("the re-run after the interruption changed nothing (%s): the interrupted run had finished the upgrade", recap.Summary())
	}
	d.mustConverge("upgrade", "version="+version)
}

// waitContainers waits until the project has n containers, running or not.
func (d *deploy) waitContainers(n int, timeout time.Duration) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := docker.Connect(ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	for {
		got, err := c.ProjectContainers(ctx, d.project)
		switch {
		case err != nil:
			d.t.Fatalf("waiting for %d containers: %v", n, err)
		case got == n:
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Ctrl-C in the middle of an upgrade: the run stops before its next task,
// exits 130 saying where it stopped and how to resume; a re-run resumes
// (the replica already upgraded is not recreated again) and converges. Not a
// request fails throughout.
func TestInterruptedUpgradeResumes(t *testing.T) {
	zdplayBinary(t) // built before the load starts
	d := newDeploy(t)
	d.mustRun("provision")
	var interrupted, resumed map[string]string
	var stopped string
	report := d.underLoad(40, true, func() {
		p := d.start("-t", "upgrade", "-e", "version=0.0.2")
		p.waitLine(`^\s+changed\s+compose_recreate "recreate" \(app_1\)`, time.Minute)
		p.signal(os.Interrupt)
		if code := p.wait(time.Minute); code != 130 {
			t.Fatalf("exit status %d after SIGINT, want 130\n%s%s", code, p.Stdout(), p.Stderr())
		}
		stopped = p.Stderr()
		if strings.Contains(p.Stdout(), `compose_recreate "recreate" (app_2)`) {
			t.Fatalf("the run went on to app_2 after SIGINT:\n%s", p.Stdout())
		}
		interrupted = d.containers()
		d.convergeAfterInterruption("0.0.2")
		resumed = d.containers()
	})
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`stopping after the task in flight`),
		// The first Ctrl-C lands during the recreate or the health wait: the
		// next task is the wait, or the observation after it.
		regexp.MustCompile(`interrupted before (wait_healthy "healthy" \(app_1\)|compose_render "compose file")`),
		regexp.MustCompile(`run the same command again to resume`),
	} {
		if !want.MatchString(stopped) {
			t.Errorf("stderr after SIGINT lacks %q:\n%s", want, stopped)
		}
	}
	if interrupted["app_1"] != resumed["app_1"] {
		t.Error("the re-run recreated app_1 again, which the interrupted run had upgraded")
	}
	if interrupted["app_2"] == resumed["app_2"] {
		t.Error("the re-run did not recreate app_2")
	}
	if report.Failed != 0 || report.Total == 0 {
		t.Fatalf("%d of %d requests failed during the interrupted upgrade and its re-runs", report.Failed, report.Total)
	}
	d.wantOnly("app@0.0.2")
}

// kill -9, or a second Ctrl-C that aborts the task in flight, in the middle
// of an upgrade: the re-runs converge, all without a failed request. After
// kill -9 nothing ran on the way out: the kernel released the lock.
func TestKilledUpgradeConverges(t *testing.T) {
	cases := []struct {
		name, version string
		after         string      // signal as soon as zdplay prints a line matching this
		midRecreate   bool        // and then as soon as Compose created app_1's replacement
		signals       []os.Signal // 300 ms apart
		exit          int         // -1: killed by the signal
		vars          []string
		surge         bool // start-first: the re-run must remove the surge
	}{
		// app_1 drained, Compose's replacement for it created (under a
		// temporary name) but the old container not yet removed: zdplay is
		// frozen there, then killed. The re-run must clear what is left.
		{"kill -9 mid-recreate", "0.0.2", `^\s+changed\s+proxy "drain" \(app_1\)`, true,
			[]os.Signal{syscall.SIGSTOP, syscall.SIGKILL}, -1, nil, false},
		// app_1 recreated, drained and still booting (2 s): the re-run must
		// not put it back in service before it is healthy, and nginx may not
		// retry elsewhere.
		{"kill -9 after recreate, slow boot, no retry", "0.0.2-slowboot", `^\s+changed\s+compose_recreate "recreate" \(app_1\)`, false,
			[]os.Signal{syscall.SIGKILL}, -1, []string{"proxy_next_upstream=false"}, false},
		// The second Ctrl-C aborts the wait for the booting replica (or,
		// should the first land between two tasks, the run stops there).
		{"Ctrl-C twice during the wait, slow boot, no retry", "0.0.2-slowboot", `^\s+changed\s+compose_recreate "recreate" \(app_1\)`, false,
			[]os.Signal{os.Interrupt, os.Interrupt}, 130, []string{"proxy_next_upstream=false"}, false},
		// start-first with one replica: the surge serves beside app_1 when
		// zdplay dies; the re-run goes on with it and removes it at the end.
		{"kill -9 with the surge in service, start-first, one replica, no retry", "0.0.2", `^\s+changed\s+proxy "undrain" \(surge_1\)`, false,
			[]os.Signal{syscall.SIGKILL}, -1, []string{"order=start-first", "replicas=1", "proxy_next_upstream=false"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			zdplayBinary(t)
			d := newDeploy(t, c.vars...)
			d.mustRun("provision")
			report := d.underLoad(40, true, func() {
				p := d.start("-t", "upgrade", "-e", "version="+c.version)
				p.waitLine(c.after, time.Minute)
				if c.midRecreate {
					d.waitContainers(5, 30*time.Second) // proxy, db, app_1, app_2 and app_1's replacement
				}
				for i, sig := range c.signals {
					if i > 0 {
						time.Sleep(300 * time.Millisecond)
					}
					p.signal(sig)
				}
				if code := p.wait(time.Minute); code != c.exit {
					t.Fatalf("exit status %d, want %d\n%s%s", code, c.exit, p.Stdout(), p.Stderr())
				}
				if strings.Contains(p.Stdout(), `compose_recreate "recreate" (app_2)`) {
					t.Fatalf("the run went on to app_2:\n%s", p.Stdout())
				}
				d.convergeAfterInterruption(c.version)
			})
			if report.Failed != 0 || report.Total == 0 {
				t.Fatalf("%d of %d requests failed during the killed upgrade and its re-runs", report.Failed, report.Total)
			}
			if c.midRecreate && !regexp.MustCompile(`changed\s+compose_recreate "recreate" \(app_1\).*removed \d leftover container`).MatchString(d.log.String()) {
				t.Fatalf("the re-run did not remove what the killed recreate left:\n%s", d.log)
			}
			d.wantOnly("app@" + strings.Split(c.version, "-")[0])
			if c.surge {
				d.wantNoSurge()
			}
		})
	}
}

// A second run while one holds the deployment's lock is refused at once,
// naming the holder; so is a --check. The first run is not disturbed.
func TestConcurrentRunRefused(t *testing.T) {
	zdplayBinary(t) // built before the load starts
	d := newDeploy(t)
	d.mustRun("provision")
	report := d.underLoad(40, true, func() {
		first := d.start("-t", "upgrade", "-e", "version=0.0.2-slowboot")
		first.waitLine(`^\s+ok\s+lock "project"`, time.Minute)
		holder := regexp.MustCompile(fmt.Sprintf(`locked by pid %d \(zdplay run app\.hcl -e project=%s .* -t upgrade -e version=0\.0\.2-slowboot\) since \d\d:\d\d:\d\d; wait for it`, first.pid(), d.project))

		for _, args := range [][]string{
			{"-t", "upgrade", "-e", "version=0.0.2"},
			{"-t", "upgrade", "-e", "version=0.0.2", "--check"},
			{"-t", "teardown"},
		} {
			start := time.Now()
			second := d.start(args...)
			code := second.wait(time.Minute)
			took := time.Since(start)
			if code != 1 || !holder.MatchString(second.Stderr()) || !holder.MatchString(second.Stdout()) {
				t.Fatalf("zdplay %v during an upgrade: exit %d, want 1 and the holder named (%s)\nstdout:\n%s\nstderr:\n%s", args, code, holder, second.Stdout(), second.Stderr())
			}
			if took > 5*time.Second {
				t.Fatalf("zdplay %v was refused after %s, want at once", args, took)
			}
			if !strings.Contains(second.Stdout(), "ok=0 changed=0 skipped=0 failed=1") {
				t.Fatalf("zdplay %v ran tasks after the lock:\n%s", args, second.Stdout())
			}
			t.Logf("zdplay %v refused after %s", args, took.Round(time.Millisecond))
		}

		if code := first.wait(2 * time.Minute); code != 0 {
			t.Fatalf("the first run failed (exit %d):\n%s%s", code, first.Stdout(), first.Stderr())
		}
		// Released at the end of the run: the next one goes.
		d.mustConverge("upgrade", "version=0.0.2-slowboot")
	})
	if report.Failed != 0 || report.Total == 0 {
		t.Fatalf("%d of %d requests failed", report.Failed, report.Total)
	}
	if lock, _ := os.ReadFile(filepath.Join(d.dir, ".zdplay.lock")); len(lock) != 0 {
		t.Fatalf("the lock file still names a holder after the runs ended: %q", lock)
	}
	d.wantOnly("app@0.0.2")
}
