package tasks

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func lockEnv() *Env { return &Env{Shared: &Shared{}} }

func TestLockRefusesASecondRunNamingTheHolder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "deploy", "sub", ".zdplay.lock") // directories created
	lock := &Lock{Path: path}
	first, second := lockEnv(), lockEnv()

	r, err := lock.Apply(ctx, first)
	if err != nil || r.Changed {
		t.Fatalf("first run: %+v %v, want ok (never changed)", r, err)
	}
	content, _ := os.ReadFile(path)
	host, _ := os.Hostname()
	for _, want := range []string{fmt.Sprintf("pid: %d\n", os.Getpid()), "command: " + filepath.Base(os.Args[0]), "started: ", "host: " + host + "\n"} {
		if !strings.Contains(string(content), want) {
			t.Errorf("lock file lacks %q:\n%s", want, content)
		}
	}

	// Taking it again in the same run is a no-op.
	if r, err := lock.Apply(ctx, first); err != nil || r.Changed || !strings.Contains(r.Msg, "already held by this run") {
		t.Fatalf("re-acquire in the same run: %+v %v", r, err)
	}

	start := time.Now()
	_, err = lock.Apply(ctx, second)
	if err == nil {
		t.Fatal("a second run took a held lock")
	}
	want := fmt.Sprintf("locked by pid %d (%s", os.Getpid(), filepath.Base(os.Args[0]))
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ") since ") ||
		!strings.Contains(err.Error(), "the lock is released when a process dies") {
		t.Fatalf("err = %v, want it to name the holder (%q) and say what to do", err, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("refusal took %s, want at once", d)
	}
	// A --check during the run is refused too.
	if _, err := lock.Check(ctx, lockEnv()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("--check during a run: err = %v, want %q", err, want)
	}

	// The end of the run releases it and empties the file.
	if err := first.Shared.Close(); err != nil {
		t.Fatal(err)
	}
	if content, _ := os.ReadFile(path); len(content) != 0 {
		t.Fatalf("released lock file still says %q", content)
	}
	if _, err := lock.Apply(ctx, second); err != nil {
		t.Fatalf("after the first run ended: %v", err)
	}
	second.Shared.Close()
}

// A sensitive value on the command line (-e password=...) is redacted in the
// recorded holder, so neither the lock file nor a refused run shows it.
func TestLockRedactsSecretsInTheRecordedCommand(t *testing.T) {
	args := os.Args
	os.Args = append(append([]string{}, args...), "-e", "password=hunter2", "-e", "dir=/srv")
	t.Cleanup(func() { os.Args = args })
	path := filepath.Join(t.TempDir(), ".zdplay.lock")
	lock := &Lock{Path: path}
	holder := lockEnv()
	holder.Redact = func(s string) string { return strings.ReplaceAll(s, "hunter2", "(sensitive value)") }
	defer holder.Shared.Close()

	if _, err := lock.Apply(context.Background(), holder); err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(path)
	if strings.Contains(string(content), "hunter2") ||
		!strings.Contains(string(content), " -e 'password=(sensitive value)' -e dir=/srv\n") {
		t.Fatalf("lock file = %q, want the command with the password redacted", content)
	}
	// The refused run knows no secrets: it shows what the file says.
	_, err := lock.Apply(context.Background(), lockEnv())
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "password=(sensitive value)") {
		t.Fatalf("refused run: err = %v, want the holder named without the password", err)
	}
}

func TestLockCheckModeIsSharedAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "deploy")
	lock := &Lock{Path: filepath.Join(dir, ".zdplay.lock")}

	// No file yet: free, and nothing is created.
	r, err := lock.Check(ctx, lockEnv())
	if err != nil || r.Changed || !strings.Contains(r.Msg, "would lock") {
		t.Fatalf("check without a file: %+v %v", r, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("--check created %s", dir)
	}

	run := lockEnv()
	if _, err := lock.Apply(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.Shared.Close()

	// Two concurrent --check runs do not block each other...
	c1, c2 := lockEnv(), lockEnv()
	for _, c := range []*Env{c1, c2} {
		if r, err := lock.Check(ctx, c); err != nil || r.Changed {
			t.Fatalf("concurrent --check: %+v %v", r, err)
		}
	}
	if content, _ := os.ReadFile(lock.Path); len(content) != 0 {
		t.Fatalf("--check wrote %q", content)
	}
	// ...but a run started during one is refused, naming it.
	_, err = lock.Apply(ctx, lockEnv())
	if want := fmt.Sprintf("locked by pid %d", os.Getpid()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("run during --check: err = %v, want %q", err, want)
	}
	c1.Shared.Close()
	c2.Shared.Close()
	other := lockEnv()
	if _, err := lock.Apply(ctx, other); err != nil {
		t.Fatalf("after the checks ended: %v", err)
	}
	other.Shared.Close()
}

func TestLockValidatesAndIsRegistered(t *testing.T) {
	if err := (&Lock{Path: " "}).Validate(nil); err == nil || !strings.Contains(err.Error(), "path is empty") {
		t.Fatalf("empty path: %v", err)
	}
	k, ok := Lookup("lock")
	if !ok {
		t.Fatal("lock is not registered")
	}
	if _, ok := k.New().(*Lock); !ok {
		t.Fatal("lock's constructor returns another kind")
	}
}

// A lock held by a process that dies (kill -9) is released by the kernel:
// the next run takes it without anyone cleaning up.
func TestLockReleasedWhenTheHolderIsKilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".zdplay.lock")
	holder := exec.Command(os.Args[0], "-test.run=TestLockHelperProcess")
	holder.Env = append(os.Environ(), "ZDPLAY_LOCK_HELPER="+path)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "held" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	lock := &Lock{Path: path}
	_, err = lock.Apply(context.Background(), lockEnv())
	want := fmt.Sprintf("locked by pid %d (%s -test.run=", holder.Process.Pid, filepath.Base(os.Args[0]))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}

	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	env := lockEnv()
	defer env.Shared.Close()
	if _, err := lock.Apply(context.Background(), env); err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	if content, _ := os.ReadFile(path); !strings.Contains(string(content), fmt.Sprintf("pid: %d\n", os.Getpid())) {
		t.Fatalf("the new holder is not recorded: %q", content)
	}
}

// TestLockHelperProcess holds a lock until killed, for the test above.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv("ZDPLAY_LOCK_HELPER")
	if path == "" {
		t.Skip("helper process for TestLockReleasedWhenTheHolderIsKilled")
	}
	if _, err := (&Lock{Path: path}).Apply(context.Background(), lockEnv()); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("held")
	time.Sleep(time.Minute) // killed long before
	os.Exit(1)
}

func TestHideExtraVarValues(t *testing.T) {
	in := []string{"zdplay", "run", "app.hcl", "-e", "password=hunter2", "-e=token=abc", "--extra-vars", "k=v=w", "-ex=1", "-e", "@vars.hcl", "-t", "upgrade"}
	want := "zdplay run app.hcl -e password=(hidden) -e=token=(hidden) --extra-vars k=(hidden) -ex=(hidden) -e @vars.hcl -t upgrade"
	if got := strings.Join(hideExtraVarValues(in), " "); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// A lock path that is a symbolic link is refused, by Check and Apply, and
// what it points at is left as it was (it used to receive the holder, then
// be emptied on release); so are a FIFO (without blocking) and a directory.
func TestLockRefusesSymlinksAndNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim.txt")
	writeFile(t, victim, "precious\n")
	link := filepath.Join(dir, "state", ".zdplay.lock")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../victim.txt", link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.lock")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, what := range map[string]string{link: "is a symbolic link", fifo: "is a named pipe (FIFO)", dir: "is a directory"} {
		for _, mode := range []string{"check", "apply"} {
			env := lockEnv()
			done := make(chan error, 1)
			go func() {
				var err error
				if mode == "check" {
					_, err = (&Lock{Path: path}).Check(context.Background(), env)
				} else {
					_, err = (&Lock{Path: path}).Apply(context.Background(), env)
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "lock: path "+path+" "+what+", not a regular file") {
					t.Errorf("%s %s: err = %v, want it refused (%s)", mode, path, err, what)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s %s: still blocked after 5s", mode, path)
			}
			env.Shared.Close()
		}
	}
	if got := readString(t, victim); got != "precious\n" {
		t.Fatalf("the symlink's target now holds %q", got)
	}
}
