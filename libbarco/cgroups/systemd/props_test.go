package systemd

import (
	"reflect"
	"strings"
	"testing"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

// propMap turns properties into name -> Go value, failing on duplicates:
// systemd would apply both, in order, which is never what is meant.
func propMap(t *testing.T, props []sddbus.Property) map[string]any {
	t.Helper()
	m := make(map[string]any, len(props))
	for _, p := range props {
		if _, dup := m[p.Name]; dup {
			t.Errorf("property %s given twice", p.Name)
		}
		m[p.Name] = p.Value.Value()
	}
	return m
}

func TestResourceProperties(t *testing.T) {
	const v = 252
	tests := []struct {
		name    string
		r       *specs.LinuxResources
		version int
		want    map[string]any
	}{
		{"nil", nil, v, map[string]any{}},
		{"memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](64 << 20), Reservation: ptr[int64](32 << 20), Swap: ptr[int64](96 << 20),
		}}, v, map[string]any{"MemoryMax": uint64(64 << 20), "MemoryLow": uint64(32 << 20), "MemorySwapMax": uint64(32 << 20)}},
		{"memory unlimited frees swap", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			v, map[string]any{"MemoryMax": infinity, "MemorySwapMax": infinity}},
		{"memory zero is unset", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](0)}},
			v, map[string]any{}},
		{"shares use the fs driver's conversion", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024)}},
			v, map[string]any{"CPUWeight": uint64(39)}},
		{"shares bounds", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](262144)}},
			v, map[string]any{"CPUWeight": uint64(10000)}},
		{"quota and period", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](100000)}},
			v, map[string]any{"CPUQuotaPeriodUSec": uint64(100000), "CPUQuotaPerSecUSec": uint64(500000)}},
		{"period too new for old systemd", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](100000)}},
			241, map[string]any{"CPUQuotaPerSecUSec": uint64(500000)}},
		{"quota alone", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](25000)}},
			v, map[string]any{"CPUQuotaPerSecUSec": uint64(250000)}},
		{"period alone is unlimited", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](50000)}},
			v, map[string]any{"CPUQuotaPeriodUSec": uint64(50000), "CPUQuotaPerSecUSec": infinity}},
		{"cpuset", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1,9", Mems: "0"}},
			v, map[string]any{"AllowedCPUs": []byte{0x03, 0x02}, "AllowedMemoryNodes": []byte{0x01}}},
		{"cpuset too new for old systemd", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}, 243, map[string]any{}},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}},
			v, map[string]any{"TasksMax": uint64(20)}},
		{"pids unlimited", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}},
			v, map[string]any{"TasksMax": infinity}},
		{"io weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}},
			v, map[string]any{"IOWeight": uint64(4950)}},
		{"unified wins", &specs.LinuxResources{
			Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
			CPU:     &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](10000)},
			Pids:    &specs.LinuxPids{Limit: ptr[int64](5)},
			Unified: map[string]string{"memory.max": "max", "memory.high": "1000000", "cpu.weight": "77", "cpu.max": "max 50000", "pids.max": "9"},
		}, v, map[string]any{
			"MemoryMax": infinity, "MemoryHigh": uint64(1000000), "CPUWeight": uint64(77),
			"CPUQuotaPeriodUSec": uint64(50000), "CPUQuotaPerSecUSec": infinity, "TasksMax": uint64(9),
		}},
		{"unified values systemd cannot parse stay with the cgroupfs", &specs.LinuxResources{
			Unified: map[string]string{"memory.max": "1G", "cpu.weight": "0", "cpu.max": "x", "io.max": "8:0 rbps=1"},
		}, v, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props, err := resourceProperties(tt.r, tt.version)
			if err != nil {
				t.Fatal(err)
			}
			if got := propMap(t, props); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestResourcePropertiesErrors(t *testing.T) {
	tests := []struct {
		name string
		r    *specs.LinuxResources
		want string
	}{
		{"swap below memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](50)}}, "memory.swap"},
		{"swap without memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](50)}}, "memory.swap"},
		{"io weight range", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](5)}}, "blockIO.weight"},
		{"bad cpus", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-x"}}, "cpu.cpus"},
		{"bad mems", &specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "3-1"}}, "cpu.mems"},
	}
	for _, tt := range tests {
		_, err := resourceProperties(tt.r, 252)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestQuotaPerSec(t *testing.T) {
	tests := []struct {
		quota  int64
		period uint64
		want   uint64
	}{
		{50000, 100000, 500000},   // exactly 50%
		{12345, 100000, 130000},   // 12.345% rounds up to 13%
		{10001, 100000, 110000},   // any remainder rounds up
		{1000, 1000000, 10000},    // 0.1% is at least 1%
		{200000, 100000, 2000000}, // two CPUs
		{33333, 0, 340000},        // the default period
		{0, 100000, infinity},     // no quota
		{-1, 100000, infinity},
	}
	for _, tt := range tests {
		if got := quotaPerSec(tt.quota, tt.period); got != tt.want {
			t.Errorf("quotaPerSec(%d, %d) = %d, want %d", tt.quota, tt.period, got, tt.want)
		}
	}
}

func TestListToBits(t *testing.T) {
	tests := []struct {
		list string
		want []byte
		err  bool
	}{
		{"0", []byte{0x01}, false},
		{"7", []byte{0x80}, false},
		{"8", []byte{0x00, 0x01}, false},
		{"0-3,6", []byte{0x4f}, false},
		{"1,3-4, 15", []byte{0x1a, 0x80}, false},
		{"0-15", []byte{0xff, 0xff}, false},
		{"", nil, true},
		{"a", nil, true},
		{"3-1", nil, true},
		{"0-", nil, true},
		{"1,,2", nil, true},
		{"0-100000", nil, true},
	}
	for _, tt := range tests {
		got, err := listToBits(tt.list)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("listToBits(%q) = %x, %v; want %x (error %v)", tt.list, got, err, tt.want, tt.err)
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`"252.39-1~deb12u2"`, 252},
		{`"v256-rc1"`, 256},
		{`"245"`, 245},
		{"249.11-0ubuntu3", 249},
		{`""`, 0},
		{`"unknown"`, 0},
	}
	for _, tt := range tests {
		if got := parseVersion(tt.in); got != tt.want {
			t.Errorf("parseVersion(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestUnitProperties(t *testing.T) {
	scope := propMap(t, unitProperties(Unit{"machine.slice", "barco-c.scope"}, "barco container c", 42))
	want := map[string]any{
		"Description": "barco container c", "Slice": "machine.slice", "Delegate": true,
		"PIDs": []uint32{42}, "DefaultDependencies": false,
		"MemoryAccounting": true, "CPUAccounting": true, "IOAccounting": true, "TasksAccounting": true,
	}
	if !reflect.DeepEqual(scope, want) {
		t.Errorf("scope properties = %v\nwant %v", scope, want)
	}
	// systemd refuses PIDs and Delegate for a slice; its parent is a
	// dependency, not Slice=.
	slice := propMap(t, unitProperties(Unit{"system.slice", "pod.slice"}, "d", 42))
	for _, name := range []string{"PIDs", "Delegate", "Slice"} {
		if _, ok := slice[name]; ok {
			t.Errorf("slice unit has %s", name)
		}
	}
	if got := slice["Wants"]; !reflect.DeepEqual(got, []string{"system.slice"}) {
		t.Errorf("slice unit Wants = %v, want [system.slice]", got)
	}
}
