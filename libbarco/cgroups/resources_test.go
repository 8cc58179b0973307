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

// TestCreateEnablesControllers checks that Create delegates every available
// controller down to the cgroup.
func TestCreateEnablesControllers(t *testing.T) {
	mount := needCgroup2(t)
	r := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
		Pids:           &specs.LinuxPids{Limit: ptr[int64](10)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 0}},
	}
	need, err := RequiredControllers(r)
	if err != nil {
		t.Fatal(err)
	}
	avail, err := readFields(filepath.Join(mount, "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	// Every available controller is delegated down to the container's
	// cgroup, not only those the limits need (stats and later updates need
	// the others).
	want := slices.Clone(avail)
	slices.Sort(want)
	if len(want) == 0 {
		t.Skipf("no cgroup v2 controller is available at %s", mount)
	}
	for _, c := range need {
		if !slices.Contains(avail, c) {
			t.Skipf("the cgroup v2 controller %q is not available at %s", c, mount)
		}
	}
	m := testManager(t, mount, "a/b")
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	// m.Path is /barco-test-PID/TEST/a/b: TEST and a are new, made by Create.
	for _, anc := range []string{filepath.Dir(filepath.Dir(m.Path)), filepath.Dir(m.Path)} {
		got, err := readFields(filepath.Join(mount, anc, "cgroup.subtree_control"))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s/cgroup.subtree_control = %q, want %q", anc, got, want)
		}
	}
	got, err := readFields(filepath.Join(m.Dir(), "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the cgroup's controllers = %q, want %q", got, want)
	}
}

// TestSet applies each kind of resource to a fresh cgroup and reads the
// interface files back.
func TestSet(t *testing.T) {
	mount := needCgroup2(t)
	tests := []struct {
		name  string
		ctrls []string
		r     *specs.LinuxResources
		want  map[string]string // file → content; "" file content checks skipped
	}{
		{
			name:  "memory",
			ctrls: []string{"memory"},
			r: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: ptr[int64](64 << 20), Reservation: ptr[int64](16 << 20), Swap: ptr[int64](96 << 20),
				DisableOOMKiller: ptr(true),
			}},
			want: map[string]string{"memory.max": "67108864", "memory.low": "16777216", "memory.swap.max": "33554432"},
		},
		{
			name:  "pids",
			ctrls: []string{"pids"},
			r:     &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}},
			want:  map[string]string{"pids.max": "20"},
		},
		{
			name:  "cpu",
			ctrls: []string{"cpu"},
			r: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: ptr[uint64](2048), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](20000),
			}},
			// 1 + (2048-2)*9999/262142 = 79
			want: map[string]string{"cpu.weight": "79", "cpu.max": "50000 100000", "cpu.max.burst": "20000"},
		},
		{
			name:  "cpuset",
			ctrls: []string{"cpuset"},
			r:     &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}},
			want:  map[string]string{"cpuset.cpus": "0", "cpuset.mems": "0", "cpuset.cpus.effective": "0"},
		},
		{
			name:  "io weight",
			ctrls: []string{"io"},
			r:     &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}},
			want:  map[string]string{"io.weight": "default 4950"},
		},
		{
			name:  "hugetlb",
			ctrls: []string{"hugetlb"},
			r:     &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}},
			want:  map[string]string{"hugetlb.2MB.max": "4194304"},
		},
		{
			name:  "unified",
			ctrls: []string{"pids", "memory"},
			r: &specs.LinuxResources{
				Pids:    &specs.LinuxPids{Limit: ptr[int64](20)},
				Unified: map[string]string{"pids.max": "7", "memory.high": "33554432"},
			},
			want: map[string]string{"pids.max": "7", "memory.high": "33554432"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needControllers(t, mount, tt.ctrls...)
			m := testManager(t, mount, "c")
			if err := m.Create(tt.r); err != nil {
				t.Fatal(err)
			}
			if tt.name == "io weight" && m.has("io.bfq.weight") {
				tt.want = map[string]string{"io.bfq.weight": "default 500"}
			}
			if err := m.Set(tt.r); err != nil {
				t.Fatal(err)
			}
			for file, want := range tt.want {
				if got := readString(t, m, file); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
		})
	}
}

// TestSetIOMax throttles a real block device; run.sh loads null_blk in the
// guest to have one.
func TestSetIOMax(t *testing.T) {
	mount := needCgroup2(t)
	needControllers(t, mount, "io")
	major, minor, ok := someBlockDevice(t)
	if !ok {
		t.Skip("no block device")
	}
	dev := specs.LinuxBlockIODevice{Major: major, Minor: minor}
	r := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 100}},
	}}
	m := testManager(t, mount, "c")
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d:%d rbps=1048576 wbps=max riops=max wiops=100", major, minor)
	if got := readString(t, m, "io.max"); got != want {
		t.Errorf("io.max = %q, want %q", got, want)
	}
}

// someBlockDevice returns the numbers of a whole-disk block device.
func someBlockDevice(t *testing.T) (major, minor int64, ok bool) {
	t.Helper()
	devs, _ := filepath.Glob("/sys/block/*/dev")
	slices.Sort(devs)
	for _, d := range devs {
		data, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(string(data)), "%d:%d", &major, &minor); err == nil {
			return major, minor, true
		}
	}
	return 0, 0, false
}

// TestSetErrors checks that Set fails, naming the config.json field, when a
// value cannot be applied.
func TestSetErrors(t *testing.T) {
	mount := needCgroup2(t)
	needControllers(t, mount, "memory")
	tests := []struct {
		name    string
		r       *specs.LinuxResources
		wantErr string
	}{
		{"unified file missing", &specs.LinuxResources{Unified: map[string]string{"memory.nonexistent": "1"}},
			`linux.resources.unified["memory.nonexistent"]: no such cgroup file`},
		{"unified escape", &specs.LinuxResources{Unified: map[string]string{"../cgroup.procs": "1"}},
			`linux.resources.unified["../cgroup.procs"]`},
		{"value refused by the kernel", &specs.LinuxResources{Unified: map[string]string{"memory.max": "lots"}},
			`linux.resources.unified["memory.max"]: write "lots" to memory.max: invalid argument`},
		{"realtime", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: ptr[uint64](1000)}},
			"linux.resources.cpu.realtimePeriod: not supported on cgroup v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManager(t, mount, "c")
			if err := m.Create(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}}); err != nil {
				t.Fatal(err)
			}
			err := m.Set(tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Set() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestMemoryLimitKills runs a process that needs more than the limit.
func TestMemoryLimitKills(t *testing.T) {
	mount := needCgroup2(t)
	needControllers(t, mount, "memory")
	// No swap either, or the helper would just be swapped out.
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 << 20), Swap: ptr[int64](32 << 20)}}
	m := testManager(t, mount, "c")
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	h, err := startHelper(t, m, "alloc", "128")
	if err != nil {
		t.Fatal(err)
	}
	err = h.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper allocating 128 MiB under a 32 MiB limit ended with %v, want SIGKILL", err)
	}
	ev, err := m.MemoryEvents()
	if err != nil {
		t.Fatal(err)
	}
	if ev["oom_kill"] < 1 || ev["max"] < 1 {
		t.Errorf("memory.events = %v, want oom_kill and max >= 1", ev)
	}
}

// TestPidsLimitRefusesFork fills the cgroup up to pids.max and then tries
// to start one more process in it.
func TestPidsLimitRefusesFork(t *testing.T) {
	mount := needCgroup2(t)
	needControllers(t, mount, "pids")
	r := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](1)}}
	m := testManager(t, mount, "c")
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	startIn(t, m)
	fd, err := m.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("a second process started in a cgroup with pids.max 1")
	} else if !errors.Is(err, unix.EAGAIN) {
		t.Errorf("second process: %v, want EAGAIN", err)
	}
}

// TestUpdateCheckBeforeUpdate refuses a limit below the current usage only
// when asked to.
func TestUpdateCheckBeforeUpdate(t *testing.T) {
	mount := needCgroup2(t)
	needControllers(t, mount, "memory")
	m := testManager(t, mount, "c")
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](256 << 20)}}
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	h, err := startHelper(t, m, "alloc", "16")
	if err != nil {
		t.Fatal(err)
	}
	if line := h.readLine(t); line != "ready" {
		t.Fatalf("helper said %q", line)
	}
	low := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4 << 20), CheckBeforeUpdate: ptr(true)}}
	if err := m.Update(low); err == nil || !strings.Contains(err.Error(), "below the current usage") {
		t.Errorf("Update(4 MiB, checkBeforeUpdate) = %v, want a refusal", err)
	}
	if got := readString(t, m, "memory.max"); got != "268435456" {
		t.Errorf("memory.max = %s after a refused update", got)
	}
	high := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](128 << 20), CheckBeforeUpdate: ptr(true)}}
	if err := m.Update(high); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, m, "memory.max"); got != "134217728" {
		t.Errorf("memory.max = %s, want 134217728", got)
	}
}

// TestFreezeThaw freezes a process that writes a byte every 10ms and checks
// that the bytes stop, then start again after Thaw.
func TestFreezeThaw(t *testing.T) {
	mount := needCgroup2(t)
	m := testManager(t, mount, "c")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() = %v, %v before Freeze", frozen, err)
	}
	h, err := startHelper(t, m, "tick")
	if err != nil {
		t.Fatal(err)
	}
	if !h.wrote(t, 10*time.Second) {
		t.Fatal("the helper writes nothing")
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() = %v, %v after Freeze", frozen, err)
	}
	h.received(t, 100*time.Millisecond) // what was in the pipe already
	if n := h.received(t, 500*time.Millisecond); n != 0 {
		t.Errorf("a frozen process wrote %d bytes", n)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() = %v, %v after Thaw", frozen, err)
	}
	h.received(t, 0) // drop anything written before the freeze took hold
	if !h.wrote(t, 10*time.Second) {
		t.Error("the thawed process writes nothing")
	}
	// A frozen cgroup can still be killed and removed.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := NewManager(mount, m.Path+"/gone").Frozen(); err != nil || frozen {
		t.Errorf("Frozen() of a missing cgroup = %v, %v", frozen, err)
	}
}
