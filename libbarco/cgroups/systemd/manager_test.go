package systemd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/cgroups/bpf/bpftest"
)

// The tests below talk to a real systemd over the system bus. They run where
// tests/vm/systemd-guest.sh sets BARCO_SYSTEMD_TEST=1: inside the cgroup v2
// guest, in the namespaces of a systemd started for them. On other hosts
// they would create units in the host's systemd, so they are skipped.
func needSystemd(t *testing.T) {
	t.Helper()
	if os.Getenv("BARCO_SYSTEMD_TEST") != "1" {
		t.Skip("needs a disposable systemd: run through tests/vm/run-systemd.sh")
	}
}

// startProcess starts a long sleep in the test's own cgroup, as the engine
// starts a container init before Apply, and reaps it at the end.
func startProcess(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// unitProp reads a property of the unit through a connection of its own, as
// `systemctl show` would.
func unitProp(t *testing.T, unit, typ, name string) any {
	t.Helper()
	ctx := context.Background()
	conn, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p, err := conn.GetUnitTypePropertyContext(ctx, unit, typ, name)
	if err != nil {
		t.Fatalf("%s.%s of %s: %v", typ, name, unit, err)
	}
	return p.Value.Value()
}

func activeState(t *testing.T, unit string) string {
	t.Helper()
	return unitProp(t, unit, "Unit", "ActiveState").(string)
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func newManager(t *testing.T, cgroupsPath, id string) *Manager {
	t.Helper()
	m, err := New(cgroupsPath, id, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Destroy() })
	return m
}

func TestApplyScope(t *testing.T) {
	needSystemd(t)
	cmd := startProcess(t)
	m := newManager(t, "", "sd-scope")
	if m.Path != "/system.slice/barco-sd-scope.scope" {
		t.Fatalf("expected path %q", m.Path)
	}
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](64 << 20)},
		CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](1024), Quota: ptr[int64](12345), Period: ptr[uint64](100000), Cpus: "0",
		},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](20)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)},
	}
	if err := m.Apply(cmd.Process.Pid, r); err != nil {
		t.Fatal(err)
	}
	if m.Path != "/system.slice/barco-sd-scope.scope" {
		t.Errorf("Path after Apply = %q", m.Path)
	}
	own := readFile(t, "/proc/"+strconv.Itoa(cmd.Process.Pid), "cgroup")
	if !strings.Contains(own, "0::"+m.Path) {
		t.Errorf("process cgroup %q, want %s", own, m.Path)
	}
	if got := activeState(t, m.Unit.Name); got != "active" {
		t.Errorf("ActiveState = %q", got)
	}

	// systemd knows the limits...
	for name, want := range map[string]any{
		"MemoryMax": uint64(64 << 20), "MemorySwapMax": uint64(0), "TasksMax": uint64(20),
		"CPUWeight": uint64(39), "CPUQuotaPerSecUSec": uint64(130000), "CPUQuotaPeriodUSec": uint64(100000),
		"IOWeight": uint64(4950), "Delegate": true, "Slice": "system.slice", "AllowedCPUs": []byte{1},
		"ControlGroup": m.Path, "DevicePolicy": "auto",
	} {
		got := unitProp(t, m.Unit.Name, "Scope", name)
		if b, ok := got.([]byte); ok {
			// systemd pads CPU masks to whole machine words.
			got = bytes.TrimRight(b, "\x00")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("unit property %s = %v, want %v", name, got, want)
		}
	}
	// ...and the cgroup files hold the exact values (the quota unrounded).
	dir := m.Dir()
	for file, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "0", "pids.max": "20", "cpu.weight": "39",
		"cpu.max": "12345 100000", "cpuset.cpus": "0", "io.weight": "default 4950",
	} {
		if got := readFile(t, dir, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if got := bpftest.DeviceProgramNames(t, dir); !reflect.DeepEqual(got, []string{"barco_devices"}) {
		t.Errorf("device programs = %q, want only barco's", got)
	}

	// The fs driver works on the unit's cgroup.
	fs, err := m.FS()
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := fs.Frozen(); err != nil || !frozen {
		t.Errorf("Frozen after Freeze = %v, %v", frozen, err)
	}
	if err := fs.Thaw(); err != nil {
		t.Fatal(err)
	}
	st, err := fs.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Limit != 64<<20 || st.Pids.Limit != 20 || st.Pids.Current != 1 {
		t.Errorf("stats: memory limit %d, pids %d/%d", st.Memory.Usage.Limit, st.Pids.Current, st.Pids.Limit)
	}
	if pids, err := fs.Procs(); err != nil || !reflect.DeepEqual(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Procs = %v, %v", pids, err)
	}

	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup %s still there after Destroy: %v", dir, err)
	}
	if got := activeState(t, m.Unit.Name); got != "inactive" {
		t.Errorf("ActiveState after Destroy = %q", got)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("process survived Destroy")
	}
}

// A daemon-reload makes systemd rebuild its units and rewrite their cgroup
// attributes from the properties: the limits and the device filter must
// survive it.
func TestLimitsSurviveDaemonReload(t *testing.T) {
	needSystemd(t)
	cmd := startProcess(t)
	m := newManager(t, "system.slice:barco-test:reload", "x")
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](48 << 20)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](2048), Quota: ptr[int64](12345)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](11)},
	}
	if err := m.Apply(cmd.Process.Pid, r); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A property change makes systemd rewrite the unit's cgroup files
	// (this one only memory.high) ...
	if err := conn.SetUnitPropertiesContext(ctx, m.Unit.Name, true, newProp("MemoryHigh", uint64(40<<20))); err != nil {
		t.Fatal(err)
	}
	// ... and a reload re-reads every unit.
	if err := conn.ReloadContext(ctx); err != nil {
		t.Fatal(err)
	}
	// Reload returns before the units are realized again; a property read
	// goes through the same job queue and so waits for it.
	_ = unitProp(t, m.Unit.Name, "Scope", "ControlGroup")
	for file, want := range map[string]string{
		"memory.max": "50331648", "memory.high": "41943040", "pids.max": "11", "cpu.weight": "79",
	} {
		if got := readFile(t, m.Dir(), file); got != want {
			t.Errorf("%s after reload = %q, want %q", file, got, want)
		}
	}
	// systemd rewrites cpu.max from CPUQuotaPerSecUSec, a whole percentage.
	t.Logf("cpu.max after reload: %q", readFile(t, m.Dir(), "cpu.max"))
	if got := bpftest.DeviceProgramNames(t, m.Dir()); !reflect.DeepEqual(got, []string{"barco_devices"}) {
		t.Errorf("device programs after reload = %q, want only barco's", got)
	}
}

func TestUpdate(t *testing.T) {
	needSystemd(t)
	cmd := startProcess(t)
	m := newManager(t, ":barco-test:update", "x")
	if err := m.Apply(cmd.Process.Pid, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}}); err != nil {
		t.Fatal(err)
	}
	// A later command rebuilds the manager; it knows the path from the
	// saved state.
	later, err := New(":barco-test:update", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	if later.Path != m.Path {
		t.Fatalf("rebuilt manager path %q, Apply gave %q", later.Path, m.Path)
	}
	if err := later.Update(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](128 << 20)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](7)},
	}); err != nil {
		t.Fatal(err)
	}
	if got := unitProp(t, m.Unit.Name, "Scope", "MemoryMax"); got != uint64(128<<20) {
		t.Errorf("MemoryMax after Update = %v", got)
	}
	if got := unitProp(t, m.Unit.Name, "Scope", "TasksMax"); got != uint64(7) {
		t.Errorf("TasksMax after Update = %v", got)
	}
	if got := readFile(t, m.Dir(), "memory.max"); got != "134217728" {
		t.Errorf("memory.max after Update = %q", got)
	}
	// Below the usage with checkBeforeUpdate: refused before systemd is
	// told anything.
	// cgroup v2 does not move memory charges with a process, so a child
	// that allocated nothing since systemd moved it has no usage here.
	if readFile(t, m.Dir(), "memory.current") == "0" {
		t.Log("memory.current is 0: the refusal below usage cannot be shown")
	} else {
		err = later.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1), CheckBeforeUpdate: ptr(true)}})
		if err == nil || !strings.Contains(err.Error(), "below the current usage") {
			t.Errorf("Update below usage: %v", err)
		}
	}
	if got := unitProp(t, m.Unit.Name, "Scope", "MemoryMax"); got != uint64(128<<20) {
		t.Errorf("MemoryMax after refused Update = %v", got)
	}
}

// When the container's processes are gone, systemd stops the scope by itself
// and removes its cgroup; Destroy then has nothing left to do.
func TestDestroyAfterExit(t *testing.T) {
	needSystemd(t)
	cmd := startProcess(t)
	m := newManager(t, ":barco-test:exit", "x")
	if err := m.Apply(cmd.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	fs, err := m.FS()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for activeState(t, m.Unit.Name) != "inactive" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("Destroy of a stopped unit: %v", err)
	}
	if fs.Exists() {
		t.Errorf("cgroup %s still there", fs.Dir())
	}
}

func TestApplySliceUnit(t *testing.T) {
	needSystemd(t)
	cmd := startProcess(t)
	m := newManager(t, "system.slice:ignored:barcotest-pod1.slice", "x")
	if err := m.Apply(cmd.Process.Pid, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](9)}}); err != nil {
		t.Fatal(err)
	}
	if m.Path != "/barcotest.slice/barcotest-pod1.slice" {
		t.Errorf("Path = %q", m.Path)
	}
	if got := readFile(t, m.Dir(), "cgroup.procs"); got != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("cgroup.procs = %q", got)
	}
	if got := unitProp(t, m.Unit.Name, "Slice", "TasksMax"); got != uint64(9) {
		t.Errorf("TasksMax = %v", got)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.Dir()); !os.IsNotExist(err) {
		t.Errorf("slice cgroup still there: %v", err)
	}
}

// Two containers cannot share a unit: the second Apply fails and leaves
// the first alone.
func TestApplyUnitInUse(t *testing.T) {
	needSystemd(t)
	first, second := startProcess(t), startProcess(t)
	m := newManager(t, ":barco-test:busy", "x")
	if err := m.Apply(first.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	other, err := New(":barco-test:busy", "y", false)
	if err != nil {
		t.Fatal(err)
	}
	err = other.Apply(second.Process.Pid, nil)
	if !errors.Is(err, ErrUnitExists) {
		t.Errorf("second Apply: %v, want a unit-exists error", err)
	}
	if got := readFile(t, m.Dir(), "cgroup.procs"); got != strconv.Itoa(first.Process.Pid) {
		t.Errorf("cgroup.procs of the first unit = %q", got)
	}
}

// systemd delegates only the controllers it knows; a limit on another one
// fails with a message that says so instead of being dropped.
func TestApplyUndelegatedController(t *testing.T) {
	needSystemd(t)
	cmd := startProcess(t)
	m := newManager(t, ":barco-test:hugetlb", "x")
	r := &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 2 << 20}}}
	err := m.Apply(cmd.Process.Pid, r)
	ctrls := readFile(t, m.Dir(), "cgroup.controllers")
	t.Logf("controllers of the scope: %s; Apply: %v", ctrls, err)
	if strings.Contains(ctrls, "hugetlb") {
		if err != nil {
			t.Fatalf("hugetlb is delegated (%s) but Apply failed: %v", ctrls, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "hugetlb") {
		t.Errorf("Apply with hugetlb limits in a cgroup without it (%s): %v", ctrls, err)
	}
}

func TestApplyInvalidPid(t *testing.T) {
	m := &Manager{Unit: Unit{"system.slice", "barco-x.scope"}}
	if err := m.Apply(0, nil); err == nil {
		t.Error("Apply(0) succeeded")
	}
}
