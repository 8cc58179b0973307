package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func inode(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func pathInode(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestOpenInRootStaysInside: absolute symlinks, ".." and links climbing
// out of the tree all resolve inside root.
func TestOpenInRootStaysInside(t *testing.T) {
	base := t.TempDir()
	rootDir := filepath.Join(base, "root")
	for _, d := range []string{"etc", "a/b"} {
		if err := os.MkdirAll(filepath.Join(rootDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Outside the root, where an escape would land.
	if err := os.MkdirAll(filepath.Join(base, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"abs":     "/etc",
		"climb":   "../../../../etc",
		"a/b/rel": "../../etc",
	} {
		if err := os.Symlink(target, filepath.Join(rootDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.Open(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	want := pathInode(t, filepath.Join(rootDir, "etc"))
	for _, p := range []string{"/etc", "etc", "/abs", "/climb", "/a/b/rel", "/../../etc", "/a/../../etc"} {
		f, err := openInRoot(root, p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got := inode(t, f); got != want {
			t.Errorf("%s resolved to inode %d, not the root's /etc (%d)", p, got, want)
		}
		f.Close()
	}
	if _, err := openInRoot(root, "/missing/x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v, want not-exist", err)
	}
}

// TestMkdirAllInRoot opens an existing directory and creates a missing one
// inside root, through a symlink that points out of the tree.
func TestMkdirAllInRoot(t *testing.T) {
	base := t.TempDir()
	rootDir := filepath.Join(base, "root")
	if err := os.MkdirAll(filepath.Join(rootDir, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/../../dev", filepath.Join(rootDir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootDir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.Open(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	f, err := mkdirAllInRoot(root, "/dev", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if inode(t, f) != pathInode(t, filepath.Join(rootDir, "dev")) {
		t.Error("/dev is not the root's /dev")
	}
	f.Close()
	f, err = mkdirAllInRoot(root, "/link/new", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(rootDir, "dev", "new")); err != nil {
		t.Errorf("the directory was not made inside root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "dev")); err == nil {
		t.Error("a directory was made outside root")
	}
	if _, err := mkdirAllInRoot(root, "/file", 0o755); err == nil {
		t.Error("a regular file was taken for a directory")
	}
}

// TestMkdirAllInRootCreatesLevels makes several missing levels, refuses a
// file in the way, and takes ".." after a symlink as the kernel does.
func TestMkdirAllInRootCreatesLevels(t *testing.T) {
	rootDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(rootDir, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootDir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/a/b", filepath.Join(rootDir, "deep")); err != nil {
		t.Fatal(err)
	}
	root, err := os.Open(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for p, made := range map[string]string{
		"/x/y/z":       "x/y/z",
		"a/b/c/./d":    "a/b/c/d",
		"/deep/../e/f": "a/e/f", // deep/.. is /a, not /
		"//g//h/":      "g/h",
	} {
		f, err := mkdirAllInRoot(root, p, 0o755)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got, want := inode(t, f), pathInode(t, filepath.Join(rootDir, made)); got != want {
			t.Errorf("%s: opened inode %d, want %s (%d)", p, got, made, want)
		}
		f.Close()
	}
	if _, err := mkdirAllInRoot(root, "/file/sub", 0o755); err == nil {
		t.Error("made a directory under a regular file")
	}
}
