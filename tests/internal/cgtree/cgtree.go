// Package cgtree removes the empty cgroup directories a test suite's
// runtimes and clients leave behind (a container's cgroup goes with it, but
// the parents made for it stay, as runc's do).
package cgtree

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Missing returns those of names that do not exist under the cgroup
// directory root: the ones a suite may remove when it ends.
func Missing(root string, names ...string) []string {
	var out []string
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(root, n)); errors.Is(err, fs.ErrNotExist) {
			out = append(out, n)
		}
	}
	return out
}

// RemoveEmpty removes the cgroup directory dir and its descendants, deepest
// first. A cgroup that still holds processes (or one that is gone) stays
// or is skipped: it never kills anything.
func RemoveEmpty(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			RemoveEmpty(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.Remove(dir)
}
