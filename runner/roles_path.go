package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// LoadOptions say where the roles a playbook does not define are found.
// A role name is looked up, first match wins: roles/ beside the playbook,
// roles/ beside its directory, each directory of RolesPath in order, then
// the shipped roles.
type LoadOptions struct {
	// RolesPath are directories of NAME.hcl role files: --roles-path, then
	// ZDPLAY_ROLES_PATH.
	RolesPath []string
	// Shipped holds roles/NAME.hcl and the templates/ they render (the
	// binary's own, zdplay.Shipped); nil: none.
	Shipped fs.FS
}

// shippedLabel names the shipped roles where an error lists the places
// searched.
const shippedLabel = "the roles shipped with zdplay"

// roleDirs is where role files are looked for on disk, in order: roles/
// beside the playbook, then roles/ beside its directory (the layout of
// playbooks/ and roles/ at a project's top), then the roles path.
func (pb *Playbook) roleDirs() []string {
	var dirs []string
	for _, d := range append([]string{pb.Dir}, pb.importDirs...) {
		if r := filepath.Join(d, "roles"); !slices.Contains(dirs, r) {
			dirs = append(dirs, r, filepath.Join(d, "..", "roles"))
		}
	}
	for _, d := range pb.opts.RolesPath {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// roleFile finds the file of role name: on disk, else among the shipped
// roles, which are then extracted (extractShipped) so that the role's
// path.role and its templates are real files. "" when there is none.
func (pb *Playbook) roleFile(name string) (string, error) {
	for _, dir := range pb.roleDirs() {
		p := filepath.Join(dir, name+".hcl")
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
			return p, nil
		}
	}
	if pb.opts.Shipped == nil {
		return "", nil
	}
	if _, err := fs.Stat(pb.opts.Shipped, path.Join("roles", name+".hcl")); err != nil {
		return "", nil
	}
	if pb.shippedDir == "" {
		dir, err := extractShipped(pb.opts.Shipped)
		if err != nil {
			return "", fmt.Errorf("role %q is shipped with zdplay, but extracting the shipped roles failed: %w; set XDG_CACHE_HOME (or HOME) to a writable directory", name, err)
		}
		pb.shippedDir = dir
	}
	return filepath.Join(pb.shippedDir, "roles", name+".hcl"), nil
}

// roleSources lists, for an error, every place roleFile looked.
func (pb *Playbook) roleSources() []string {
	out := pb.roleDirs()
	if pb.opts.Shipped != nil {
		out = append(out, shippedLabel)
	}
	return out
}

// roleNames are the roles the playbook could name, for "did you mean".
func (pb *Playbook) roleNames() []string {
	var names []string
	for n := range pb.Roles {
		names = append(names, n)
	}
	for _, dir := range pb.roleDirs() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if filepath.Ext(e.Name()) == ".hcl" {
				names = append(names, strings.TrimSuffix(e.Name(), ".hcl"))
			}
		}
	}
	if pb.opts.Shipped != nil {
		entries, _ := fs.ReadDir(pb.opts.Shipped, "roles")
		for _, e := range entries {
			if path.Ext(e.Name()) == ".hcl" {
				names = append(names, strings.TrimSuffix(e.Name(), ".hcl"))
			}
		}
	}
	sort.Strings(names)
	return names
}

// extractShipped writes the shipped files into a directory named by the
// hash of their paths and bytes, under the user's cache directory (the
// temporary one when there is none): once per content, since a directory
// of that name already holds the same files. Kinds read files from disk (a
// template's src), and path.role must be a directory, so the shipped roles
// are used from there. The files are written to a fresh directory renamed
// into place, so a concurrent run never sees half of them.
func extractShipped(fsys fs.FS) (string, error) {
	h := sha256.New()
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		files = append(files, p)
		return nil
	})
	if err != nil {
		return "", err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	base = filepath.Join(base, "zdplay")
	dir := filepath.Join(base, hex.EncodeToString(h.Sum(nil))[:16])
	if info, err := os.Stat(dir); err == nil && info.IsDir() {
		now := time.Now()
		_ = os.Chtimes(dir, now, now) // in use: not pruned (pruneShipped)
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(base, ".extract-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // gone once renamed; what is left of a failure otherwise
	for _, p := range files {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return "", err
		}
		dest := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dest, data, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run extracted the same content first.
		if info, serr := os.Stat(dir); serr == nil && info.IsDir() {
			return dir, nil
		}
		return "", err
	}
	pruneShipped(base, dir, shippedKeep)
	return dir, nil
}

// shippedKeep is how long an extraction no binary has used is kept: an
// older zdplay still running (or run again) within it finds its files.
const shippedKeep = 7 * 24 * time.Hour

// pruneShipped removes, once a new binary has extracted its files, the
// extractions of other binaries that nothing used for longer than keep
// (every use touches its directory), so that upgrades of zdplay do not
// fill the cache. Failures are ignored: the cache is only a cache.
func pruneShipped(base, current string, keep time.Duration) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(base, e.Name())
		if !e.IsDir() || p == current || !shippedName.MatchString(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > keep {
			_ = os.RemoveAll(p)
		}
	}
}

// shippedName is an extraction's directory name: 16 hex digits of its hash.
var shippedName = regexp.MustCompile(`^[0-9a-f]{16}$`)
