package libbarco

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestEmptyNet(t *testing.T) {
	tests := []struct {
		ns    []string
		empty bool
		ok    bool
	}{
		{nil, false, true},
		{[]string{"network"}, true, true},
		{[]string{"net"}, true, true},
		{[]string{"network", "pid"}, false, false},
		{[]string{"mount"}, false, false},
	}
	for _, tt := range tests {
		empty, err := emptyNet(tt.ns)
		if (err == nil) != tt.ok || empty != tt.empty {
			t.Errorf("emptyNet(%q) = %v, %v; want %v, ok=%v", tt.ns, empty, err, tt.empty, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrCheckpointUnsupported) {
			t.Errorf("emptyNet(%q): %v does not match ErrCheckpointUnsupported", tt.ns, err)
		}
	}
}

func TestUnderAny(t *testing.T) {
	dirs := []string{"/dev", "/proc", "/sys/"}
	tests := []struct {
		p    string
		want bool
	}{
		{"/dev/pts", true},
		{"/dev", false}, // the mount itself is not below itself
		{"/device", false},
		{"/sys/fs/cgroup", true},
		{"/out", false},
	}
	for _, tt := range tests {
		if got := underAny(tt.p, dirs); got != tt.want {
			t.Errorf("underAny(%q) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestCheckpointDirs(t *testing.T) {
	base := t.TempDir()
	image, work := filepath.Join(base, "img"), filepath.Join(base, "work")

	// Restore needs the images to exist.
	if _, _, err := checkpointDirs(image, "", false); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("restore from a missing image dir: %v, want ErrNotExist", err)
	}
	gotImage, gotWork, err := checkpointDirs(image, "", true)
	if err != nil || gotImage != image || gotWork != image {
		t.Fatalf("checkpointDirs = %q, %q, %v; want the image dir for both", gotImage, gotWork, err)
	}
	if _, _, err := checkpointDirs(image, work, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(work); err != nil || !fi.IsDir() {
		t.Errorf("work dir not created: %v", err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkpointDirs(file, "", false); err == nil {
		t.Error("a file was accepted as the image directory")
	}
}

func TestReadStdioKeys(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" means no file
		want    int
		ok      bool
	}{
		{"no file", "", 0, true},
		{"pipes", `[{"fd":0,"key":"pipe:[1]"},{"fd":2,"key":"file[1f:ff]"}]`, 2, true},
		{"fd beyond stdio", `[{"fd":5,"key":"pipe:[1]"}]`, 0, false},
		{"empty key", `[{"fd":1,"key":""}]`, 0, false},
		{"not json", `{`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				if err := os.WriteFile(filepath.Join(dir, stdioFile), []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := readStdioKeys(dir)
			if (err == nil) != tt.ok || len(keys) != tt.want {
				t.Errorf("readStdioKeys = %v, %v; want %d keys, ok=%v", keys, err, tt.want, tt.ok)
			}
		})
	}
}

func TestStdioKeyOfOwnFDs(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	pid := os.Getpid()
	link, err := os.Readlink(filepathFD(pid, int(r.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	key, ext, err := stdioKey(pid, int(r.Fd()), link, nil)
	if err != nil || key != link || ext {
		t.Errorf("pipe: key %q external %v err %v; want %q, not external", key, ext, err, link)
	}

	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mounts, err := mountIDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Inside our own mounts /dev/null is criu's to dump...
	if key, _, err := stdioKey(pid, int(f.Fd()), os.DevNull, mounts); err != nil || key != "" {
		t.Errorf("file in our mounts: key %q err %v; want none", key, err)
	}
	// ...seen from another mount namespace it is an external file.
	key, ext, err = stdioKey(pid, int(f.Fd()), os.DevNull, map[int]bool{})
	if err != nil || !ext || len(key) < len("file[") || key[:5] != "file[" {
		t.Errorf("file outside: key %q external %v err %v; want an external file key", key, ext, err)
	}
}

func filepathFD(pid, fd int) string {
	return fmt.Sprintf("/proc/%d/fd/%d", pid, fd)
}
