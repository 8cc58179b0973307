package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// loadTest loads a device program returning ret under name and closes it
// when the test ends.
func loadTest(t *testing.T, name string, ret int32) int {
	t.Helper()
	var b Builder
	b.Emit(Mov64Imm(R0, ret), Exit())
	code, err := b.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := ProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, code, "MIT", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func closeOnExec(t *testing.T, fd int) bool {
	t.Helper()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	return flags&unix.FD_CLOEXEC != 0
}

// TestProgLoadAndInfo loads a program, finds it again by id and checks that
// both fds are close-on-exec without the caller asking.
func TestProgLoadAndInfo(t *testing.T) {
	needRoot(t)
	fd := loadTest(t, "barco_test.1", 1)
	info, err := ProgInfoByFD(fd)
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != unix.BPF_PROG_TYPE_CGROUP_DEVICE || info.Name != "barco_test.1" || info.ID == 0 {
		t.Errorf("ProgInfoByFD() = %+v, want a device program named barco_test.1 with an id", info)
	}
	byID, err := ProgGetFDByID(info.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(byID)
	again, err := ProgInfoByFD(byID)
	if err != nil {
		t.Fatal(err)
	}
	if again != info {
		t.Errorf("info by id = %+v, want %+v", again, info)
	}
	for _, f := range []int{fd, byID} {
		if !closeOnExec(t, f) {
			t.Errorf("fd %d is not close-on-exec", f)
		}
	}
}

// TestProgLoadErrors checks the refusals, with the verifier's reason in the
// error when the kernel gives one.
func TestProgLoadErrors(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name      string
		insns     []Insn
		progName  string
		wantErrno error  // nil when refused before the syscall
		wantText  string // in the error
	}{
		{
			name:      "R0 not set",
			insns:     []Insn{Exit()},
			wantErrno: unix.EACCES,
			wantText:  "verifier log:\n",
		},
		{
			name:      "falls off the end",
			insns:     []Insn{Mov64Imm(R0, 0)},
			wantErrno: unix.EINVAL,
			wantText:  "verifier log:\n",
		},
		{
			name:      "read past the end of the context",
			insns:     []Insn{LoadMem32(R2, R1, 12), Mov64Imm(R0, 0), Exit()},
			wantErrno: unix.EACCES,
			wantText:  "invalid bpf_context access",
		},
		{
			name:     "empty",
			wantText: "0 bytes is not a whole number of instructions",
		},
		{
			name:     "name too long",
			insns:    []Insn{Mov64Imm(R0, 0), Exit()},
			progName: "sixteen_chars_xx",
			wantText: "name longer than 15 characters",
		},
		{
			name:      "bad name",
			insns:     []Insn{Mov64Imm(R0, 0), Exit()},
			progName:  "no spaces",
			wantErrno: unix.EINVAL,
			wantText:  "bpf prog load no spaces: invalid argument",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var code []byte
			for _, in := range tt.insns {
				code = in.append(code)
			}
			fd, err := ProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, code, "MIT", tt.progName)
			if err == nil {
				unix.Close(fd)
				t.Fatal("ProgLoad() succeeded")
			}
			var errno unix.Errno
			if tt.wantErrno == nil && errors.As(err, &errno) || tt.wantErrno != nil && !errors.Is(err, tt.wantErrno) {
				t.Errorf("ProgLoad() = %v, want errno %v", err, tt.wantErrno)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("ProgLoad() = %v, want it to contain %q", err, tt.wantText)
			}
		})
	}
}

// testCgroup creates a cgroup under the cgroup2 mount and removes it when
// the test ends.
func testCgroup(t *testing.T) int {
	t.Helper()
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) == 0 {
		t.Skip("no cgroup2 mount")
	}
	dir := filepath.Join(mounts[0].Mountpoint, fmt.Sprintf("barco-bpf-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fd)
		// The programs still attached go away with the cgroup.
		if err := os.Remove(dir); err != nil {
			t.Error(err)
		}
	})
	return fd
}

// TestAttachQueryDetach attaches two programs side by side, as the device
// filter does while it replaces its program, and detaches them one by one.
func TestAttachQueryDetach(t *testing.T) {
	needRoot(t)
	cg := testCgroup(t)
	query := func() []uint32 {
		t.Helper()
		ids, err := ProgQuery(cg, unix.BPF_CGROUP_DEVICE)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	idOf := func(fd int) uint32 {
		info, err := ProgInfoByFD(fd)
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	a, b := loadTest(t, "a", 1), loadTest(t, "b", 1)

	if ids := query(); len(ids) != 0 {
		t.Fatalf("new cgroup has programs %v", ids)
	}
	for _, p := range []int{a, b} {
		if err := ProgAttach(cg, p, unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI); err != nil {
			t.Fatal(err)
		}
	}
	if ids, want := query(), []uint32{idOf(a), idOf(b)}; !slices.Equal(ids, want) {
		t.Errorf("after attaching a and b: %v, want %v", ids, want)
	}
	if err := ProgDetach(cg, a, unix.BPF_CGROUP_DEVICE); err != nil {
		t.Fatal(err)
	}
	if ids, want := query(), []uint32{idOf(b)}; !slices.Equal(ids, want) {
		t.Errorf("after detaching a: %v, want %v", ids, want)
	}
	if err := ProgDetach(cg, a, unix.BPF_CGROUP_DEVICE); !errors.Is(err, unix.ENOENT) {
		t.Errorf("detaching a again = %v, want ENOENT", err)
	}
	if err := ProgDetach(cg, b, unix.BPF_CGROUP_DEVICE); err != nil {
		t.Fatal(err)
	}
	if ids := query(); len(ids) != 0 {
		t.Errorf("after detaching both: %v", ids)
	}
}

func TestProgGetFDByIDGone(t *testing.T) {
	needRoot(t)
	var b Builder
	b.Emit(Mov64Imm(R0, 1), Exit())
	code, err := b.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := ProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, code, "MIT", "")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ProgInfoByFD(fd)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	if fd, err := ProgGetFDByID(info.ID); !errors.Is(err, unix.ENOENT) {
		if err == nil {
			unix.Close(fd)
		}
		t.Errorf("ProgGetFDByID(id of a closed program) = %v, want ENOENT", err)
	}
}
