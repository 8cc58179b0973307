package sysfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRead reads regular files around the buffer's size, a procfs file
// (size 0 but content) and a missing file, with Read, ReadWhole and
// ReadRegular.
func TestRead(t *testing.T) {
	readers := map[string]func(string) ([]byte, error){
		"Read":        Read,
		"ReadWhole":   func(p string) ([]byte, error) { return ReadWhole(unix.AT_FDCWD, p, 0, p) },
		"ReadRegular": ReadRegular,
	}
	for name, read := range readers {
		dir := t.TempDir()
		for _, size := range []int{0, 1, 511, 512, 513, 5000, 70000} {
			want := bytes.Repeat([]byte{'x'}, size)
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, want, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := read(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s, size %d: got %d bytes, %v", name, size, len(got), err)
			}
		}
		if got, err := read("/proc/self/stat"); err != nil || !bytes.HasSuffix(got, []byte("\n")) {
			t.Errorf("%s /proc/self/stat: %q, %v", name, got, err)
		}
		_, err := read(filepath.Join(dir, "missing"))
		var pe *os.PathError
		if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" {
			t.Errorf("%s, missing file: %v", name, err)
		}
	}
}
