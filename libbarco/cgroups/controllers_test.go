package cgroups

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestRequiredControllers(t *testing.T) {
	tests := []struct {
		name    string
		r       *specs.LinuxResources
		want    []string
		fields  []string // field path per controller, same order as want
		wantErr string
	}{
		{name: "nil", r: nil},
		{name: "empty", r: &specs.LinuxResources{}},
		{
			name: "devices need no controller",
			r:    &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
		},
		{
			name:   "memory limit",
			r:      &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}},
			want:   []string{"memory"},
			fields: []string{"linux.resources.memory.limit"},
		},
		{
			name:   "memory swappiness only",
			r:      &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](10)}},
			want:   []string{"memory"},
			fields: []string{"linux.resources.memory.swappiness"},
		},
		{name: "empty memory struct", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{}}},
		{
			name:   "cpu and cpuset",
			r:      &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](1000), Period: ptr[uint64](10000), Mems: "0"}},
			want:   []string{"cpu", "cpuset"},
			fields: []string{"linux.resources.cpu.quota", "linux.resources.cpu.mems"},
		},
		{
			name:   "cpuset only",
			r:      &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1"}},
			want:   []string{"cpuset"},
			fields: []string{"linux.resources.cpu.cpus"},
		},
		{
			name:   "cpu realtime, burst, idle",
			r:      &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1), Burst: ptr[uint64](1), Idle: ptr[int64](1)}},
			want:   []string{"cpu"},
			fields: []string{"linux.resources.cpu.burst"},
		},
		{
			name:   "pids",
			r:      &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}},
			want:   []string{"pids"},
			fields: []string{"linux.resources.pids.limit"},
		},
		{name: "pids without limit", r: &specs.LinuxResources{Pids: &specs.LinuxPids{}}},
		{
			name: "block io device throttle",
			r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{Rate: 10}},
			}},
			want:   []string{"io"},
			fields: []string{"linux.resources.blockIO.throttleWriteIOPSDevice"},
		},
		{
			name:   "hugetlb",
			r:      &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}},
			want:   []string{"hugetlb"},
			fields: []string{"linux.resources.hugepageLimits"},
		},
		{
			name:   "rdma",
			r:      &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_1": {HcaHandles: ptr[uint32](3)}}},
			want:   []string{"rdma"},
			fields: []string{"linux.resources.rdma"},
		},
		{
			name: "unified keys",
			r: &specs.LinuxResources{Unified: map[string]string{
				"memory.high": "1G", "cgroup.max.depth": "3", "pids.max": "4", "memory.max": "2G",
			}},
			want:   []string{"memory", "pids"},
			fields: []string{`linux.resources.unified["memory.high"]`, `linux.resources.unified["pids.max"]`},
		},
		{
			name: "memory field wins over unified key",
			r: &specs.LinuxResources{
				Memory:  &specs.LinuxMemory{Reservation: ptr[int64](1)},
				Unified: map[string]string{"memory.max": "2G"},
			},
			want:   []string{"memory"},
			fields: []string{"linux.resources.memory.reservation"},
		},
		{
			name: "sorted and unique",
			r: &specs.LinuxResources{
				Pids:           &specs.LinuxPids{Limit: ptr[int64](10)},
				Memory:         &specs.LinuxMemory{Limit: ptr[int64](1), Swap: ptr[int64](2)},
				HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}},
				Unified:        map[string]string{"memory.max": "1", "pids.max": "1"},
			},
			want:   []string{"hugetlb", "memory", "pids"},
			fields: []string{"linux.resources.hugepageLimits", "linux.resources.memory.limit", "linux.resources.pids.limit"},
		},
		{
			name:    "network class id",
			r:       &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			wantErr: "linux.resources.network: not supported on cgroup v2",
		},
		{
			name:    "network priorities",
			r:       &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 1}}}},
			wantErr: "linux.resources.network: not supported on cgroup v2",
		},
		{name: "empty network struct", r: &specs.LinuxResources{Network: &specs.LinuxNetwork{}}},
		{
			name:    "unified key without controller",
			r:       &specs.LinuxResources{Unified: map[string]string{"max": "1"}},
			wantErr: `linux.resources.unified["max"]`,
		},
		{
			name:    "unified key with a path",
			r:       &specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}},
			wantErr: `linux.resources.unified["../memory.max"]`,
		},
		{
			name:    "unified key dot dot",
			r:       &specs.LinuxResources{Unified: map[string]string{"..": "1"}},
			wantErr: `linux.resources.unified[".."]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RequiredControllers(tt.r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("RequiredControllers() = %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RequiredControllers() error: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("RequiredControllers() = %q, want %q", got, tt.want)
			}
			reqs, _ := requirements(tt.r)
			var fields []string
			for _, q := range reqs {
				fields = append(fields, q.field)
			}
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("fields = %q, want %q", fields, tt.fields)
			}
		})
	}
}

// TestCheckControllersFiles runs CheckControllers against a directory tree
// that mimics a hierarchy, so the choice of the cgroup.controllers file and
// the messages are checked without root.
func TestCheckControllersFiles(t *testing.T) {
	mount := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(mount, rel, "cgroup.controllers")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("", "cpu hugetlb pids\n")
	write("pod", "pids\n")
	if err := os.Mkdir(filepath.Join(mount, "pod", "c1"), 0o755); err != nil {
		t.Fatal(err)
	}

	memory := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}}
	hugetlb := &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}}
	several := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](2), Cpus: "0"},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](3)},
	}
	tests := []struct {
		name    string
		path    string
		r       *specs.LinuxResources
		wantErr string
	}{
		{name: "new cgroup reads the root", path: "/new/c1", r: hugetlb},
		{name: "missing at the root", path: "/new/c1", r: memory,
			wantErr: `cgroup v2 controller "memory" is not available at ` + mount + " (linux.resources.memory.limit)"},
		{name: "existing cgroup reads its parent", path: "/pod/c1", r: hugetlb,
			wantErr: `cgroup v2 controller "hugetlb" is not available at ` + filepath.Join(mount, "pod") + " (linux.resources.hugepageLimits)"},
		{name: "several missing", path: "/new/c1", r: several,
			wantErr: `cgroup v2 controllers "cpuset", "memory" are not available at ` + mount +
				" (linux.resources.cpu.cpus, linux.resources.memory.limit)"},
		{name: "nothing needed", path: "/pod/c1", r: &specs.LinuxResources{}},
		{name: "invalid resources", path: "/pod/c1", r: &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			wantErr: "linux.resources.network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewManager(mount, tt.path).CheckControllers(tt.r)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckControllers() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckControllers() = %v, want it to contain %s", err, tt.wantErr)
			}
		})
	}

	got, err := NewManager(mount, "/pod/c1").Controllers()
	if err != nil || !slices.Equal(got, []string{"pids"}) {
		t.Errorf("Controllers() of /pod/c1 = %q, %v; want the parent's [pids]", got, err)
	}
}
