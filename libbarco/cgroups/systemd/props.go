package systemd

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/internal/cpulist"
	"github.com/barco-oci/barco/libbarco/cgroups"
)

// infinity is systemd's "no limit" for byte, task and time properties
// (CGROUP_LIMIT_MAX, USEC_INFINITY).
const infinity = uint64(math.MaxUint64)

// defaultPeriod is the kernel's CFS period, used when only a quota is given.
const defaultPeriod = 100000

// Versions of systemd that first took a property; older ones reject the
// whole transient unit over an unknown property, so these are left to the
// cgroupfs writes.
const (
	minVersionQuotaPeriod = 242 // CPUQuotaPeriodUSec
	minVersionCpuset      = 244 // AllowedCPUs, AllowedMemoryNodes
)

// props is an ordered property list in which a later value for a name
// replaces the earlier one, so that linux.resources.unified wins over the
// converted fields as it does in the cgroupfs.
type props []sddbus.Property

func (p *props) set(name string, value any) {
	v := dbus.MakeVariant(value)
	for i := range *p {
		if (*p)[i].Name == name {
			(*p)[i].Value = v
			return
		}
	}
	*p = append(*p, sddbus.Property{Name: name, Value: v})
}

// resourceProperties converts the resources systemd has unit properties for.
// version is systemd's major version (0 when unknown). The cgroupfs writes
// of the fs driver still follow and set everything, so a property left out
// here is only a limit systemd does not know about, not a lost one.
func resourceProperties(r *specs.LinuxResources, version int) ([]sddbus.Property, error) {
	var p props
	if r == nil {
		return nil, nil
	}
	if m := r.Memory; m != nil {
		limit := deref(m.Limit)
		if v, ok := byteLimit(limit); ok {
			p.set("MemoryMax", v)
		}
		if v, ok := byteLimit(deref(m.Reservation)); ok {
			p.set("MemoryLow", v)
		}
		swap, err := cgroups.SwapMax(limit, deref(m.Swap))
		if err != nil {
			return nil, fmt.Errorf("linux.resources.memory.swap: %w", err)
		}
		if v, ok := parseMax(swap); ok {
			p.set("MemorySwapMax", v)
		}
	}
	if c := r.CPU; c != nil {
		if w := cgroups.SharesToWeight(deref(c.Shares)); w != 0 {
			p.set("CPUWeight", w)
		}
		quota, period := deref(c.Quota), deref(c.Period)
		if period != 0 && version >= minVersionQuotaPeriod {
			p.set("CPUQuotaPeriodUSec", period)
		}
		if quota != 0 || period != 0 {
			p.set("CPUQuotaPerSecUSec", quotaPerSec(quota, period))
		}
		if err := cpusetProperties(&p, c.Cpus, c.Mems, version); err != nil {
			return nil, err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		v := infinity
		if *r.Pids.Limit > 0 {
			v = uint64(*r.Pids.Limit)
		}
		p.set("TasksMax", v)
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil {
		w, err := cgroups.BlkioWeightToIOWeight(*r.BlockIO.Weight)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.blockIO.weight: %w", err)
		}
		p.set("IOWeight", w)
	}
	unifiedProperties(&p, r.Unified, version)
	return p, nil
}

// cpusetProperties adds AllowedCPUs and AllowedMemoryNodes as the bit masks
// systemd takes.
func cpusetProperties(p *props, cpus, mems string, version int) error {
	if version < minVersionCpuset {
		return nil
	}
	for _, s := range []struct{ field, list, prop string }{
		{"cpus", cpus, "AllowedCPUs"},
		{"mems", mems, "AllowedMemoryNodes"},
	} {
		if s.list == "" {
			continue
		}
		bits, err := listToBits(s.list)
		if err != nil {
			return fmt.Errorf("linux.resources.cpu.%s: %w", s.field, err)
		}
		p.set(s.prop, bits)
	}
	return nil
}

// unifiedProperties mirrors the linux.resources.unified keys systemd also
// manages, so that systemd does not later rewrite those files with the
// converted values. A value it cannot parse (memory.max "1G" is valid for
// the kernel) is left to the cgroupfs write alone.
func unifiedProperties(p *props, unified map[string]string, version int) {
	for _, k := range []struct{ file, prop string }{
		{"memory.max", "MemoryMax"},
		{"memory.high", "MemoryHigh"},
		{"memory.low", "MemoryLow"},
		{"memory.min", "MemoryMin"},
		{"memory.swap.max", "MemorySwapMax"},
		{"pids.max", "TasksMax"},
	} {
		if s, ok := unified[k.file]; ok {
			if v, ok := parseMax(strings.TrimSpace(s)); ok {
				p.set(k.prop, v)
			}
		}
	}
	if s, ok := unified["cpu.weight"]; ok {
		if w, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64); err == nil && w >= 1 && w <= 10000 {
			p.set("CPUWeight", w)
		}
	}
	if s, ok := unified["cpu.max"]; ok {
		if quota, period, ok := parseCPUMax(s); ok {
			if period != 0 && version >= minVersionQuotaPeriod {
				p.set("CPUQuotaPeriodUSec", period)
			}
			p.set("CPUQuotaPerSecUSec", quotaPerSec(quota, period))
		}
	}
}

// quotaPerSec converts a CFS quota and period (µs) into systemd's
// CPUQuotaPerSecUSec. systemd keeps the quota as a whole percentage of a
// CPU, so the value is rounded up to the next 10ms per second: rounding down
// would give the container less CPU than asked for. A quota of 0 or less is
// no limit.
func quotaPerSec(quota int64, period uint64) uint64 {
	if quota <= 0 {
		return infinity
	}
	if period == 0 {
		period = defaultPeriod
	}
	v := uint64(quota) * 1000000 / period
	if v%10000 != 0 {
		v = (v/10000 + 1) * 10000
	}
	return v
}

// parseCPUMax parses a cpu.max value ("max", "50000", "max 100000",
// "50000 100000") into quota (-1 for max) and period (0 when absent).
func parseCPUMax(s string) (int64, uint64, bool) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return 0, 0, false
	}
	quota := int64(-1)
	if f[0] != "max" {
		q, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || q <= 0 {
			return 0, 0, false
		}
		quota = q
	}
	var period uint64
	if len(f) == 2 {
		p, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil || p == 0 {
			return 0, 0, false
		}
		period = p
	}
	return quota, period, true
}

// byteLimit converts a v1-style limit: 0 is "not set", a negative value no
// limit.
func byteLimit(v int64) (uint64, bool) {
	switch {
	case v == 0:
		return 0, false
	case v < 0:
		return infinity, true
	}
	return uint64(v), true
}

// parseMax parses a cgroup file value that is a number or "max"; "" is
// "not set".
func parseMax(s string) (uint64, bool) {
	if s == "max" {
		return infinity, true
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// maxCPUs bounds the CPU and node numbers of a list, so that a typo such as
// "0-4000000000" cannot make a mask of hundreds of megabytes. The kernel's
// own limit (CONFIG_NR_CPUS) is at most 8192.
const maxCPUs = 8192

// listToBits converts a cpuset list ("0-3,6") into the mask systemd's
// AllowedCPUs and AllowedMemoryNodes take: byte i holds CPUs 8i..8i+7, the
// lowest in bit 0.
func listToBits(list string) ([]byte, error) {
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("invalid list %q", list)
	}
	nums, err := cpulist.Parse(list, maxCPUs)
	if err != nil {
		return nil, err
	}
	var bits []byte
	for _, n := range nums {
		for len(bits) <= n/8 {
			bits = append(bits, 0)
		}
		bits[n/8] |= 1 << (n % 8)
	}
	return bits, nil
}

func deref[T any](v *T) T {
	var zero T
	if v == nil {
		return zero
	}
	return *v
}
