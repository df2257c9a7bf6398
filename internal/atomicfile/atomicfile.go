// Package atomicfile writes a file so that its readers (nginx, HAProxy,
// Compose) never see half of it: the tasks and the proxies share it.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes data beside path then renames it over path, creating the
// parent directories. The temp name never ends in the destination's
// extension, so an nginx `include *.conf` skips it.
func Write(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
