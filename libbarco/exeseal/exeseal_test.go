package exeseal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func checkSealed(t *testing.T, f *os.File) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	path := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("sealed file differs from the binary")
	}
	// The attack: reopen the executed file for writing through procfs and
	// write to it. Either the open or the write must fail.
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		_, err = w.Write([]byte("overwritten"))
		w.Close()
	}
	if err == nil {
		t.Fatal("binary could be written through /proc/self/fd")
	}
	if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		t.Fatalf("write failed with %v, want EROFS/EPERM", err)
	}
}

func TestOpenOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting an overlay needs root")
	}
	self, _ := os.Executable()
	f, err := openThroughOverlay(self, t.TempDir())
	if err != nil {
		t.Fatalf("overlay: %v", err)
	}
	defer f.Close()
	checkSealed(t, f)
}

func TestSealedCopy(t *testing.T) {
	self, _ := os.Executable()
	f, err := sealedCopy(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSealed(t, f)
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("write to sealed memfd succeeded")
	}
}

func TestOpenFallsBack(t *testing.T) {
	// A non-existent empty dir makes the overlay fail; Open must still
	// return a protected binary.
	f, err := Open("/nonexistent-barco-empty")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSealed(t, f)
}

// TestOpenEmptyDirUnderBinary: an empty directory under the binary's own
// directory overlaps it, which overlayfs refuses; Open still returns the
// binary through an overlay (an empty tmpfs as the second layer), not a
// copy.
func TestOpenEmptyDirUnderBinary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting an overlay needs root")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	empty, err := os.MkdirTemp(filepath.Dir(self), "empty-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(empty)
	if f, err := openThroughOverlay(self, empty); err == nil {
		f.Close()
		t.Fatal("overlay with overlapping layers accepted; the test shows nothing")
	}
	f, err := Open(empty)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSealed(t, f)
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Errorf("binary opened from filesystem %#x, want overlayfs (%#x)", st.Type, unix.OVERLAYFS_SUPER_MAGIC)
	}
}
