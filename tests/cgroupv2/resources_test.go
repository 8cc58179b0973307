package cgroupv2

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func ptr[T any](v T) *T { return &v }

// The runtime-spec describes resources in cgroup v1 units; these are the
// conversions to cgroup v2 that runc established and other runtimes follow.

// cpuWeight maps cpu.shares (2..262144) onto cpu.weight (1..10000).
func cpuWeight(shares uint64) uint64 { return 1 + ((shares-2)*9999)/262142 }

// ioWeight maps a blkio weight (10..1000) onto io.weight (1..10000).
func ioWeight(w uint16) uint64 { return 1 + (uint64(w)-10)*9999/990 }

const mib = 1 << 20

// resourceCase sets one linux.resources field and checks its cgroup files.
type resourceCase struct {
	field string
	// skip returns why the host cannot show this field, or "".
	skip  func() string
	set   func(r *specs.LinuxResources)
	check func(t *testing.T, dir string)
}

// TestResources creates one container per linux.resources field and reads
// the cgroup file the field must have set. The subtest names are the spec's
// field names, so a run's output is a field-by-field report.
func TestResources(t *testing.T) {
	cases := []resourceCase{
		{
			field: "memory.limit",
			set:   func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Limit: ptr[int64](64 * mib)} },
			check: func(t *testing.T, dir string) { expectFile(t, dir, "memory.max", itoa(64*mib)) },
		},
		{
			field: "memory.limit=-1",
			set:   func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Limit: ptr[int64](-1)} },
			check: func(t *testing.T, dir string) { expectFile(t, dir, "memory.max", "max") },
		},
		{
			field: "memory.reservation",
			set:   func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Reservation: ptr[int64](32 * mib)} },
			check: func(t *testing.T, dir string) { expectFile(t, dir, "memory.low", itoa(32*mib)) },
		},
		{
			// swap is memory+swap in v1 terms; memory.swap.max is swap alone.
			field: "memory.swap",
			set: func(r *specs.LinuxResources) {
				r.Memory = &specs.LinuxMemory{Limit: ptr[int64](64 * mib), Swap: ptr[int64](96 * mib)}
			},
			check: func(t *testing.T, dir string) {
				if !exists(filepath.Join(dir, "memory.swap.max")) {
					t.Skip("no memory.swap.max: the kernel has no swap accounting")
				}
				expectFile(t, dir, "memory.max", itoa(64*mib))
				expectFile(t, dir, "memory.swap.max", itoa(32*mib))
			},
		},
		{
			field: "cpu.shares",
			set:   func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Shares: ptr[uint64](2048)} },
			check: func(t *testing.T, dir string) { expectFile(t, dir, "cpu.weight", utoa(cpuWeight(2048))) },
		},
		{
			field: "cpu.quota+period",
			set: func(r *specs.LinuxResources) {
				r.CPU = &specs.LinuxCPU{Quota: ptr[int64](30000), Period: ptr[uint64](200000)}
			},
			check: func(t *testing.T, dir string) { expectFile(t, dir, "cpu.max", "30000 200000") },
		},
		{
			field: "cpu.burst",
			set: func(r *specs.LinuxResources) {
				r.CPU = &specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](20000)}
			},
			check: func(t *testing.T, dir string) {
				if !exists(filepath.Join(dir, "cpu.max.burst")) {
					t.Skip("no cpu.max.burst: the kernel is older than 5.14")
				}
				expectFile(t, dir, "cpu.max", "50000 100000")
				expectFile(t, dir, "cpu.max.burst", "20000")
			},
		},
		{
			field: "cpu.idle",
			set:   func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Idle: ptr[int64](1)} },
			check: func(t *testing.T, dir string) {
				if !exists(filepath.Join(dir, "cpu.idle")) {
					t.Skip("no cpu.idle: the kernel is older than 5.15")
				}
				expectFile(t, dir, "cpu.idle", "1")
			},
		},
		{
			field: "cpu.cpus",
			set:   func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Cpus: lastCPU()} },
			check: func(t *testing.T, dir string) {
				expectFile(t, dir, "cpuset.cpus", lastCPU())
				expectFile(t, dir, "cpuset.cpus.effective", lastCPU())
			},
		},
		{
			field: "cpu.mems",
			set:   func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Mems: "0"} },
			check: func(t *testing.T, dir string) { expectFile(t, dir, "cpuset.mems", "0") },
		},
		{
			field: "pids.limit",
			set:   func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: ptr[int64](42)} },
			check: func(t *testing.T, dir string) { expectFile(t, dir, "pids.max", "42") },
		},
		{
			// With BFQ loaded its weight file takes the v1 value as is;
			// otherwise io.weight gets the converted one.
			field: "blockIO.weight",
			set:   func(r *specs.LinuxResources) { r.BlockIO = &specs.LinuxBlockIO{Weight: ptr[uint16](500)} },
			check: func(t *testing.T, dir string) {
				if exists(filepath.Join(dir, "io.bfq.weight")) {
					expectLine(t, dir, "io.bfq.weight", "default", "500")
					return
				}
				expectLine(t, dir, "io.weight", "default", utoa(ioWeight(500)))
			},
		},
		{
			field: "blockIO.weightDevice",
			skip: func() string {
				dev, err := blockDevice()
				if err != nil {
					return err.Error()
				}
				return bfqMissing(dev)
			},
			set: func(r *specs.LinuxResources) {
				dev, _ := blockDevice()
				r.BlockIO = &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{
					LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: dev.major, Minor: dev.minor},
					Weight:             ptr[uint16](300),
				}}}
			},
			check: func(t *testing.T, dir string) {
				dev, _ := blockDevice()
				expectLine(t, dir, "io.bfq.weight", dev.String(), "300")
			},
		},
		throttleCase("blockIO.throttleReadBpsDevice", "rbps", 1*mib, func(b *specs.LinuxBlockIO, d []specs.LinuxThrottleDevice) { b.ThrottleReadBpsDevice = d }),
		throttleCase("blockIO.throttleWriteBpsDevice", "wbps", 2*mib, func(b *specs.LinuxBlockIO, d []specs.LinuxThrottleDevice) { b.ThrottleWriteBpsDevice = d }),
		throttleCase("blockIO.throttleReadIOPSDevice", "riops", 100, func(b *specs.LinuxBlockIO, d []specs.LinuxThrottleDevice) { b.ThrottleReadIOPSDevice = d }),
		throttleCase("blockIO.throttleWriteIOPSDevice", "wiops", 200, func(b *specs.LinuxBlockIO, d []specs.LinuxThrottleDevice) { b.ThrottleWriteIOPSDevice = d }),
		{
			field: "hugepageLimits",
			skip: func() string {
				if missing := missingControllers(env.cgroup2, []string{"hugetlb"}); len(missing) > 0 {
					return "no hugetlb controller"
				}
				if !exists("/sys/kernel/mm/hugepages/hugepages-2048kB") {
					return "the kernel has no 2MB huge pages"
				}
				return ""
			},
			set: func(r *specs.LinuxResources) {
				r.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 * mib}}
			},
			check: func(t *testing.T, dir string) { expectFile(t, dir, "hugetlb.2MB.max", itoa(4*mib)) },
		},
		{
			field: "unified",
			set:   func(r *specs.LinuxResources) { r.Unified = map[string]string{"memory.high": itoa(48 * mib)} },
			check: func(t *testing.T, dir string) { expectFile(t, dir, "memory.high", itoa(48*mib)) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			if env.skip == "" && tc.skip != nil {
				if why := tc.skip(); why != "" {
					t.Skip(why)
				}
			}
			c := newContainer(t, "sleep", "1000")
			tc.set(c.spec.Linux.Resources)
			c.create()
			tc.check(t, c.cgroupDir())
		})
	}
}

// throttleCase checks one of the four throttle lists on the host's block
// device: each lands in that device's io.max line under its own key.
func throttleCase(field, key string, rate uint64, set func(*specs.LinuxBlockIO, []specs.LinuxThrottleDevice)) resourceCase {
	return resourceCase{
		field: field,
		skip: func() string {
			if _, err := blockDevice(); err != nil {
				return err.Error()
			}
			return ""
		},
		set: func(r *specs.LinuxResources) {
			dev, _ := blockDevice()
			r.BlockIO = &specs.LinuxBlockIO{}
			set(r.BlockIO, []specs.LinuxThrottleDevice{{
				LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: dev.major, Minor: dev.minor},
				Rate:               rate,
			}})
		},
		check: func(t *testing.T, dir string) {
			dev, _ := blockDevice()
			line := fileLine(t, dir, "io.max", dev.String())
			if line == "" {
				t.Fatalf("io.max has no line for %s:\n%s", dev, readCgroupFile(t, dir, "io.max"))
			}
			want := key + "=" + utoa(rate)
			if !slices.Contains(strings.Fields(line), want) {
				t.Errorf("io.max line %q lacks %s", line, want)
			}
		},
	}
}

// device is a block device as major:minor.
type device struct{ major, minor int64 }

func (d device) String() string { return fmt.Sprintf("%d:%d", d.major, d.minor) }

// blockDevice is the block device the io tests limit: /dev/nullb0 (from
// `modprobe null_blk`) if there is one, else the first disk in /sys/block.
func blockDevice() (device, error) {
	var st unix.Stat_t
	if err := unix.Stat("/dev/nullb0", &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
		return device{int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))}, nil
	}
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "zram") {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/sys/block", name, "dev"))
		if err != nil {
			continue
		}
		var d device
		if _, err := fmt.Sscanf(strings.TrimSpace(string(data)), "%d:%d", &d.major, &d.minor); err == nil {
			return d, nil
		}
	}
	return device{}, fmt.Errorf("no block device to throttle: load null_blk (modprobe null_blk)")
}

// bfqMissing tells why per-device BFQ weights cannot be set on dev, or "".
func bfqMissing(dev device) string {
	sched, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%s/queue/scheduler", dev))
	if err != nil {
		return fmt.Sprintf("no I/O scheduler for %s: %v", dev, err)
	}
	if !strings.Contains(string(sched), "[bfq]") {
		return fmt.Sprintf("the scheduler of block device %s is not bfq (%s); weightDevice needs io.bfq.weight (modprobe bfq, echo bfq > .../queue/scheduler)",
			dev, strings.TrimSpace(string(sched)))
	}
	return ""
}

// fileLine returns the line of a keyed interface file (io.max, io.weight)
// whose first field is key, or "".
func fileLine(t *testing.T, dir, file, key string) string {
	t.Helper()
	for _, line := range strings.Split(readCgroupFile(t, dir, file), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == key {
			return line
		}
	}
	return ""
}

// expectLine fails unless the file has the line "key value".
func expectLine(t *testing.T, dir, file, key, value string) {
	t.Helper()
	line := fileLine(t, dir, file, key)
	if f := strings.Fields(line); len(f) != 2 || f[1] != value {
		t.Errorf("%s: line for %q is %q, want %q\n%s", file, key, line, key+" "+value, readCgroupFile(t, dir, file))
	}
}

// lastCPU is the highest CPU the root cgroup may use, so that a cpuset of
// it differs from the default whenever there is more than one CPU.
func lastCPU() string {
	data, err := os.ReadFile(filepath.Join(env.cgroup2, "cpuset.cpus.effective"))
	if err != nil {
		return "0"
	}
	s := strings.TrimSpace(string(data))
	if i := strings.LastIndexAny(s, ",-"); i >= 0 {
		s = s[i+1:]
	}
	if _, err := strconv.Atoi(s); err != nil {
		return "0"
	}
	return s
}

func itoa(n int64) string  { return strconv.FormatInt(n, 10) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }
