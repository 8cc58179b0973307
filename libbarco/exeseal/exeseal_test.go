package exeseal

import (
	"bytes"
	"errors"
	"os"
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

// TestOpenOverlay: as root, the binary comes from a read-only overlay
// (of its directory and an empty tmpfs), not from a copy, and cannot be
// written through /proc.
func TestOpenOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting an overlay needs root")
	}
	self, _ := os.Executable()
	f, err := openThroughOverlay(self)
	if err != nil {
		t.Fatalf("overlay: %v", err)
	}
	defer f.Close()
	checkSealed(t, f)
	checkOverlay(t, f)
}

func checkOverlay(t *testing.T, f *os.File) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Errorf("binary opened from filesystem %#x, want overlayfs (%#x)", st.Type, unix.OVERLAYFS_SUPER_MAGIC)
	}
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

// TestOpen: Open returns a protected binary; as root, through the overlay
// rather than a copy.
func TestOpen(t *testing.T) {
	f, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSealed(t, f)
	if os.Geteuid() == 0 {
		checkOverlay(t, f)
	}
}
