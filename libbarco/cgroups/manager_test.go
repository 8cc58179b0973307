package cgroups

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// needCgroup2 skips unless the test can create cgroups in the host's cgroup2
// hierarchy, and returns its mount point.
func needCgroup2(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	mount, err := FindMount()
	if errors.Is(err, ErrNoCgroup2) {
		t.Skip("no cgroup2 mount")
	}
	if err != nil {
		t.Fatal(err)
	}
	return mount
}

// testManager returns a Manager for /barco-test-<pid>/<test>/<sub>; the
// whole /barco-test-<pid> tree is killed and removed when the test ends,
// whatever its outcome.
func testManager(t *testing.T, mount, sub string) *Manager {
	t.Helper()
	top := NewManager(mount, fmt.Sprintf("/barco-test-%d", os.Getpid()))
	t.Cleanup(func() {
		if err := top.Kill(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := top.Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return NewManager(mount, top.Path+"/"+strings.ReplaceAll(t.Name(), "/", "_")+"/"+sub)
}

// startIn starts "sleep 100" directly inside m's cgroup through
// CLONE_INTO_CGROUP; the process is killed and reaped when the test ends.
func startIn(t *testing.T, m *Manager) *exec.Cmd {
	t.Helper()
	fd, err := m.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start into cgroup %s: %v", m.Path, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseOwnPath(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindMountIsCgroup2(t *testing.T) {
	mount := needCgroup2(t)
	var st unix.Statfs_t
	if err := unix.Statfs(mount, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Errorf("FindMount() = %s, which is not a cgroup2 filesystem (type %#x)", mount, st.Type)
	}
}

func TestOwnPath(t *testing.T) {
	mount := needCgroup2(t)
	own, err := OwnPath()
	if err != nil {
		t.Fatal(err)
	}
	// Our own pid must be listed in the cgroup OwnPath names.
	data, err := os.ReadFile(filepath.Join(mount, own, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(data)), fmt.Sprint(os.Getpid())) {
		t.Errorf("pid %d not in %s/cgroup.procs", os.Getpid(), own)
	}
}

func TestLifecycle(t *testing.T) {
	mount := needCgroup2(t)
	m := testManager(t, mount, "x")
	child := NewManager(mount, m.Path+"/sub/deeper")

	if m.Exists() {
		t.Fatalf("%s exists before Create", m.Dir())
	}
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	if !m.Exists() {
		t.Fatalf("%s missing after Create", m.Dir())
	}
	if err := m.Create(nil); err != nil {
		t.Fatalf("Create of an existing empty cgroup: %v", err)
	}
	if err := child.Create(nil); err != nil {
		t.Fatal(err)
	}
	// x delegates its controllers to its children now, so (cgroup v2's no
	// internal processes rule) processes go to leaves below it.
	leaf := NewManager(mount, m.Path+"/leaf")
	if err := leaf.Create(nil); err != nil {
		t.Fatal(err)
	}

	outer := startIn(t, leaf)
	inner := startIn(t, child)
	for _, c := range []struct {
		cmd  *exec.Cmd
		path string
	}{{outer, leaf.Path}, {inner, child.Path}} {
		if got := cgroupOf(t, c.cmd.Process.Pid); got != c.path {
			t.Errorf("pid %d is in cgroup %s, want %s", c.cmd.Process.Pid, got, c.path)
		}
	}

	pids, err := m.Procs()
	if err != nil {
		t.Fatal(err)
	}
	want := []int{outer.Process.Pid, inner.Process.Pid}
	slices.Sort(want)
	if !slices.Equal(pids, want) {
		t.Errorf("Procs() = %v, want %v", pids, want)
	}

	if err := m.Create(nil); err == nil || !strings.Contains(err.Error(), "is in use") {
		t.Errorf("Create of a populated cgroup = %v, want an in-use error", err)
	}
	if err := m.Destroy(); !errors.Is(err, unix.EBUSY) {
		t.Errorf("Destroy of a populated cgroup = %v, want EBUSY", err)
	}

	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*exec.Cmd{outer, inner} {
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("pid %d ended with %v, want SIGKILL", cmd.Process.Pid, err)
		}
	}
	if pids, err := m.Procs(); err != nil || len(pids) != 0 {
		t.Errorf("Procs() after Kill = %v, %v; want none", pids, err)
	}

	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after Destroy: %v", m.Dir(), err)
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("Destroy of a removed cgroup: %v", err)
	}
	if err := m.Kill(); err != nil {
		t.Errorf("Kill of a removed cgroup: %v", err)
	}
}

// TestKillEach covers the path taken on kernels without cgroup.kill.
func TestKillEach(t *testing.T) {
	mount := needCgroup2(t)
	m := testManager(t, mount, "x")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	cmds := []*exec.Cmd{startIn(t, m), startIn(t, m)}
	deadline := time.Now().Add(killTimeout)
	if err := m.killEach(deadline); err != nil {
		t.Fatal(err)
	}
	if err := m.waitEmpty(deadline); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("pid %d ended with %v, want killed", cmd.Process.Pid, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}

func TestRootCgroupRefused(t *testing.T) {
	mount := needCgroup2(t)
	for _, p := range []string{"/", "", "/a/../", "relative"} {
		m := NewManager(mount, p)
		if err := m.Kill(); err == nil {
			t.Errorf("Kill(%q) succeeded", p)
		}
		if err := m.Destroy(); err == nil {
			t.Errorf("Destroy(%q) succeeded", p)
		}
		if err := m.Create(nil); err == nil {
			t.Errorf("Create(%q) succeeded", p)
		}
	}
}

func TestCheckControllersHost(t *testing.T) {
	mount := needCgroup2(t)
	data, err := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	rootCtrls := strings.Fields(string(data))
	m := testManager(t, mount, "not-created")
	got, err := m.Controllers()
	if err != nil || !slices.Equal(got, rootCtrls) {
		t.Errorf("Controllers() of a new cgroup = %q, %v; want the root's %q", got, err, rootCtrls)
	}

	tests := []struct {
		name       string
		controller string
		r          *specs.LinuxResources
	}{
		{"memory", "memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}}},
		{"hugetlb", "hugetlb", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}}},
		{"pids", "pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.CheckControllers(tt.r)
			if slices.Contains(rootCtrls, tt.controller) {
				if err != nil {
					t.Errorf("CheckControllers() = %v, but %s offers %q", err, mount, tt.controller)
				}
				return
			}
			want := fmt.Sprintf("cgroup v2 controller %q is not available at %s", tt.controller, mount)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("CheckControllers() = %v, want %q", err, want)
			}
		})
	}
}
