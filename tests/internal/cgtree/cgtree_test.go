package cgtree

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// On a plain directory tree (cgroupfs has no files to remove first), every
// empty directory goes and a non-empty one stays.
func TestRemoveEmptyAndMissing(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a/b/c", "a/d", "keep/x"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "keep", "x", "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Missing(root, "a", "keep", "gone"); !slices.Equal(got, []string{"gone"}) {
		t.Errorf("Missing = %v, want [gone]", got)
	}
	RemoveEmpty(filepath.Join(root, "a"))
	RemoveEmpty(filepath.Join(root, "keep"))
	RemoveEmpty(filepath.Join(root, "gone"))
	if _, err := os.Stat(filepath.Join(root, "a")); !os.IsNotExist(err) {
		t.Errorf("a is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "keep", "x", "f")); err != nil {
		t.Errorf("keep/x/f went: %v", err)
	}
}
