package sysfile

import (
	"bytes"
	"errors"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 5000} {
		want := bytes.Repeat([]byte{'x'}, size)
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d: got %d bytes, %v", size, len(got), err)
		}
	}
	// procfs files report size 0 but have content.
	if got, err := Read("/proc/self/stat"); err != nil || len(got) == 0 {
		t.Errorf("/proc/self/stat: %q, %v", got, err)
	}
	_, err := Read(filepath.Join(dir, "missing"))
	var pe *os.PathError
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadWhole(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 5000} {
		want := bytes.Repeat([]byte{'y'}, size)
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadWhole(unix.AT_FDCWD, p, 0, p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d: got %d bytes, %v", size, len(got), err)
		}
	}
	got, err := ReadWhole(unix.AT_FDCWD, "/proc/self/stat", 0, "/proc/self/stat")
	if err != nil || !bytes.HasSuffix(got, []byte("\n")) {
		t.Errorf("/proc/self/stat: %q, %v", got, err)
	}
}
