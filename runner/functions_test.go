package runner

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 10, item 10: file() on a FIFO hung and on /dev/zero read without
// end; it reads regular files only, and at most maxFileFuncSize.
func TestFileFuncRefusesNonRegularAndHugeFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := readFileCapped(fifo, maxFileFuncSize); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("file() on a FIFO hangs")
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readFileCapped(big, 1024); err == nil || !strings.Contains(err.Error(), "more than file() reads") {
		t.Fatalf("a file over the cap: %v", err)
	}
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("0.0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := readFileCapped(small, 1024); err != nil || string(b) != "0.0.1\n" {
		t.Fatalf("a small file: %q, %v", b, err)
	}
}
