package libbarco

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/criu"
	"github.com/barco-oci/barco/state"
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

func TestRecordStdio(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	sock, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	sockFile, err := sock.File()
	if err != nil {
		t.Fatal(err)
	}
	defer sockFile.Close()

	got := recordStdio([3]*os.File{r, null, sockFile})
	if len(got) != 3 {
		t.Fatalf("recordStdio = %+v; want three entries", got)
	}
	// A pipe: criu dumps it, restore replaces it by its /proc link.
	pipeLink, err := os.Readlink(filepathFD(os.Getpid(), int(r.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	if p := got[0]; p.FD != 0 || p.Key != pipeLink || p.External {
		t.Errorf("pipe: %+v; want fd 0, key %q, not external", p, pipeLink)
	}
	// A file from outside: external, named by mount id and inode.
	var st unix.Stat_t
	if err := unix.Fstat(int(null.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	want := criu.ExtFile(mountIDOf(t, null), st.Ino)
	if f := got[1]; f.FD != 1 || f.Key != want || !f.External {
		t.Errorf("file: %+v; want fd 1, key %q, external", f, want)
	}
	// A socket: criu's own business.
	if s := got[2]; s.FD != 2 || s.Key != "" || s.External {
		t.Errorf("socket: %+v; want fd 2, no key", s)
	}

	// A named FIFO is a file, not a pipe.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ff, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ff.Close()
	if got := recordStdio([3]*os.File{ff, ff, ff}); len(got) != 3 || !got[0].External || !strings.HasPrefix(got[0].Key, "file[") {
		t.Errorf("named FIFO: %+v; want an external file", got)
	}

	// A closed file is left out.
	closed, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if got := recordStdio([3]*os.File{r, closed, w}); len(got) != 2 || got[0].FD != 0 || got[1].FD != 2 {
		t.Errorf("with a closed fd: %+v; want fds 0 and 2", got)
	}
}

// The keys come from the record, not from what the init's fds are now;
// descriptors.json shows the fds as they are.
func TestDescribeStdioUsesRecord(t *testing.T) {
	c := &Container{st: &state.State{
		Pid: os.Getpid(),
		Stdio: []state.StdioFile{
			{FD: 0, Key: "pipe:[7]"},
			{FD: 1, Key: "file[1f:ff]", External: true},
			{FD: 2},
		},
	}}
	dir := t.TempDir()
	inherit, external, err := c.describeStdio(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantInherit := []criu.InheritFD{{FD: 0, Key: "pipe:[7]"}, {FD: 1, Key: "file[1f:ff]"}}
	if !slices.Equal(inherit, wantInherit) || !slices.Equal(external, []string{"file[1f:ff]"}) {
		t.Errorf("describeStdio = %v, %v; want %v, [file[1f:ff]]", inherit, external, wantInherit)
	}
	var links []string
	data, err := os.ReadFile(filepath.Join(dir, descriptorsFile))
	if err == nil {
		err = json.Unmarshal(data, &links)
	}
	if err != nil || len(links) != 3 {
		t.Fatalf("descriptors.json = %s, %v", data, err)
	}
	for fd, link := range links {
		if want, _ := os.Readlink(filepathFD(os.Getpid(), fd)); link != want {
			t.Errorf("descriptors.json fd %d = %q, want %q", fd, link, want)
		}
	}
}

// Without a record (a container made by an older barco) the init's fds
// are read as they are.
func TestDescribeStdioWithoutRecord(t *testing.T) {
	c := &Container{st: &state.State{Pid: os.Getpid()}}
	inherit, _, err := c.describeStdio(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var want []criu.InheritFD
	for _, s := range recordStdio([3]*os.File{os.Stdin, os.Stdout, os.Stderr}) {
		if s.Key != "" {
			want = append(want, criu.InheritFD{FD: s.FD, Key: s.Key})
		}
	}
	if !slices.Equal(inherit, want) {
		t.Errorf("describeStdio inherits %v; want %v", inherit, want)
	}
}

// mountIDOf reads the mnt_id line of f's fdinfo.
func mountIDOf(t *testing.T, f *os.File) uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "mnt_id:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no mnt_id in fdinfo")
	return 0
}

func filepathFD(pid, fd int) string {
	return fmt.Sprintf("/proc/%d/fd/%d", pid, fd)
}
