package cgroups

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// files returns a "has" function for a cgroup holding exactly names.
func files(names ...string) func(string) bool {
	return func(n string) bool { return slices.Contains(names, n) }
}

// v2Files is what a cgroup with every controller enabled has (without BFQ).
var v2Files = files("memory.max", "memory.low", "memory.swap.max", "pids.max", "cpu.weight", "cpu.max",
	"cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems", "io.weight", "io.max",
	"hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max", "rdma.max", "memory.high")

func TestPlanWrites(t *testing.T) {
	wdev := func(major, minor int64, w uint16) specs.LinuxWeightDevice {
		return specs.LinuxWeightDevice{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Weight: &w}
	}
	tests := []struct {
		name     string
		r        *specs.LinuxResources
		has      func(string) bool
		want     []string // "file=value"
		warnings []string // substrings, in order
		wantErr  string
	}{
		{name: "nil", r: nil, want: nil},
		{
			name: "memory",
			r: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: ptr[int64](64 << 20), Reservation: ptr[int64](16 << 20), Swap: ptr[int64](96 << 20),
				DisableOOMKiller: ptr(true), UseHierarchy: ptr(true), Kernel: ptr[int64](1 << 20),
			}},
			want: []string{"memory.swap.max=33554432", "memory.max=67108864", "memory.low=16777216"},
			warnings: []string{
				"linux.resources.memory.kernel is ignored",
				"linux.resources.memory.disableOOMKiller is ignored: not supported on cgroup v2",
			},
		},
		{
			name: "memory unlimited",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: []string{"memory.swap.max=max", "memory.max=max"},
		},
		{
			name:    "swap below limit",
			r:       &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](10)}},
			wantErr: "linux.resources.memory.swap: swap limit 10 (memory+swap) is below the memory limit 100",
		},
		{
			name: "pids",
			r:    &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}},
			want: []string{"pids.max=max"},
		},
		{
			name: "cpu",
			r: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](200000),
				Burst: ptr[uint64](10000), Idle: ptr[int64](1), Cpus: "0-1", Mems: "0",
			}},
			want: []string{"cpu.weight=39", "cpu.max.burst=10000", "cpu.max=50000 200000", "cpu.idle=1",
				"cpuset.cpus=0-1", "cpuset.mems=0"},
		},
		{
			name: "cpu period alone means no quota",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](50000)}},
			want: []string{"cpu.max=max 50000"},
		},
		{
			name:    "realtime",
			r:       &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](950000)}},
			wantErr: "linux.resources.cpu.realtimeRuntime: not supported on cgroup v2",
		},
		{
			name: "realtime zero is harmless",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](0), RealtimePeriod: ptr[uint64](0)}},
		},
		{
			name: "io without bfq",
			r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: ptr[uint16](500), LeafWeight: ptr[uint16](300),
				WeightDevice: []specs.LinuxWeightDevice{wdev(8, 0, 1000)},
				ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{
					LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 4096}},
			}},
			want:     []string{"io.weight=4950", "io.weight=8:0 10000", "io.max=8:0 rbps=4096"},
			warnings: []string{"linux.resources.blockIO.leafWeight is ignored"},
		},
		{
			name: "io with bfq takes v1 weights as they are",
			r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: ptr[uint16](500), WeightDevice: []specs.LinuxWeightDevice{wdev(8, 0, 1000)},
			}},
			has:  files("io.bfq.weight", "io.weight"),
			want: []string{"io.bfq.weight=500", "io.bfq.weight=8:0 1000"},
		},
		{
			name:    "io weight out of range",
			r:       &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](5)}},
			wantErr: "linux.resources.blockIO.weight: weight 5 is outside 10..1000",
		},
		{
			name: "hugetlb with and without rsvd",
			r: &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
				{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 1 << 30},
			}},
			want: []string{"hugetlb.2MB.max=4194304", "hugetlb.2MB.rsvd.max=4194304", "hugetlb.1GB.max=1073741824"},
		},
		{
			name:    "hugetlb size unknown",
			r:       &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "16KB", Limit: 1}}},
			wantErr: `linux.resources.hugepageLimits[0].pageSize: no hugetlb.16KB.max in the cgroup`,
		},
		{
			name:    "hugetlb size is a path",
			r:       &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "../x", Limit: 1}}},
			wantErr: `linux.resources.hugepageLimits[0].pageSize: "../x" is not a page size`,
		},
		{
			name: "rdma sorted by device",
			r: &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{
				"mlx5_1": {HcaObjects: ptr[uint32](10)},
				"mlx5_0": {HcaHandles: ptr[uint32](3)},
				"mlx5_2": {},
			}},
			want: []string{"rdma.max=mlx5_0 hca_handle=3", "rdma.max=mlx5_1 hca_object=10"},
		},
		{
			name: "unified last, so it wins",
			r: &specs.LinuxResources{
				Pids:    &specs.LinuxPids{Limit: ptr[int64](10)},
				Unified: map[string]string{"pids.max": "20", "memory.high": "1048576"},
			},
			want: []string{"pids.max=10", "memory.high=1048576", "pids.max=20"},
		},
		{
			name:    "unified file missing",
			r:       &specs.LinuxResources{Unified: map[string]string{"memory.oom.group": "1"}},
			wantErr: `linux.resources.unified["memory.oom.group"]: no such cgroup file (is the memory controller enabled?)`,
		},
		{
			name:    "unified path escape",
			r:       &specs.LinuxResources{Unified: map[string]string{"../../memory.max": "1"}},
			wantErr: `linux.resources.unified["../../memory.max"]`,
		},
		{
			name:    "unified dotdot in a name",
			r:       &specs.LinuxResources{Unified: map[string]string{"memory..max": "1"}},
			wantErr: `linux.resources.unified["memory..max"]: not a cgroup interface file name`,
		},
		{
			name:    "network",
			r:       &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			wantErr: "linux.resources.network: not supported on cgroup v2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			has := tt.has
			if has == nil {
				has = v2Files
			}
			writes, warnings, err := planWrites(tt.r, has)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("planWrites() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("planWrites() = %v", err)
			}
			var got []string
			for _, w := range writes {
				got = append(got, w.file+"="+w.value)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("writes = %q\nwant     %q", got, tt.want)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d like %q", warnings, len(tt.warnings), tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, warnings[i], w)
				}
			}
		})
	}
}

// TestPlanWritesFlags checks the two special write kinds: swap is optional
// only when it asks for no limit, and the burst is retried around cpu.max.
func TestPlanWritesFlags(t *testing.T) {
	for _, tt := range []struct {
		r    *specs.LinuxResources
		file string
		want string
	}{
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](100)}}, "memory.swap.max", "optional"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](-1)}}, "memory.swap.max", "optional"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](200)}}, "memory.swap.max", "plain"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](1000), Burst: ptr[uint64](10)}}, "cpu.max.burst", "retry"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: ptr[uint64](10)}}, "cpu.max.burst", "plain"},
	} {
		writes, _, err := planWrites(tt.r, v2Files)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(writes, func(w write) bool { return w.file == tt.file })
		if i < 0 {
			t.Fatalf("no write of %s in %+v", tt.file, writes)
		}
		got := "plain"
		switch {
		case writes[i].optional:
			got = "optional"
		case writes[i].retryAfterNext:
			got = "retry"
			if i+1 >= len(writes) || writes[i+1].file != "cpu.max" {
				t.Errorf("burst write not followed by cpu.max: %+v", writes)
			}
		}
		if got != tt.want {
			t.Errorf("%s write for %s is %s, want %s", tt.file, fmt.Sprint(writes[i].value), got, tt.want)
		}
	}
}
