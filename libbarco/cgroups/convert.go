package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The runtime-spec describes resources in cgroup v1 terms. These pure
// functions translate them into cgroup v2 interface file values the way runc
// does, so that the same config.json gives the same limits under both
// runtimes.

// limitValue formats a v1-style byte limit: -1 means unlimited ("max") and 0
// means "not set", for which it returns "". runc treats 0 the same way; an
// actual memory.max of 0 would OOM-kill the container at once.
func limitValue(v int64) string {
	switch {
	case v == 0:
		return ""
	case v < 0:
		return "max"
	default:
		return strconv.FormatInt(v, 10)
	}
}

// swapMax converts the v1 memory+swap limit into memory.swap.max, which
// counts swap alone. It returns "" when nothing is to be written.
func swapMax(memory, swap int64) (string, error) {
	switch {
	case swap == 0 && memory == -1:
		// Like v1: an unlimited memory with no explicit swap limit frees swap too.
		return "max", nil
	case swap == 0:
		return "", nil
	case swap == -1:
		return "max", nil
	case swap < 0:
		return "", fmt.Errorf("invalid swap value %d", swap)
	case memory == 0 || memory == -1:
		return "", errors.New("a swap limit needs a memory limit")
	case memory < 0:
		return "", fmt.Errorf("invalid memory limit %d", memory)
	case swap < memory:
		return "", fmt.Errorf("swap limit %d (memory+swap) is below the memory limit %d", swap, memory)
	}
	return strconv.FormatInt(swap-memory, 10), nil
}

// v1 cpu.shares range, as clamped by the v1 kernel.
const (
	minShares = 2
	maxShares = 262144
)

// sharesToWeight maps cpu.shares (2..262144) linearly onto cpu.weight
// (1..10000). 0 means "not set" and gives 0.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, minShares), maxShares)
	return 1 + ((shares-minShares)*9999)/(maxShares-minShares)
}

// cpuMax formats cpu.max: a quota of 0 or less is unlimited, and the period
// defaults to the kernel's 100ms.
func cpuMax(quota int64, period uint64) string {
	q := "max"
	if quota > 0 {
		q = strconv.FormatInt(quota, 10)
	}
	if period == 0 {
		period = 100000
	}
	return q + " " + strconv.FormatUint(period, 10)
}

// pidsMax formats pids.max: 0 or a negative limit is unlimited.
func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

// blkioWeightToIOWeight maps a v1 blkio weight (10..1000) linearly onto
// io.weight (1..10000).
func blkioWeightToIOWeight(w uint16) (uint64, error) {
	if w < 10 || w > 1000 {
		return 0, fmt.Errorf("weight %d is outside 10..1000", w)
	}
	return 1 + (uint64(w)-10)*9999/990, nil
}

// throttle is one io.max line under construction: the limits of one device.
type throttle struct {
	major, minor int64
	rbps, wbps   *uint64
	riops, wiops *uint64
}

// ioMaxLines groups the four throttle lists by device into io.max lines
// ("8:0 rbps=1048576 wiops=max"), in the order the devices first appear. A
// rate of 0 removes the limit, as it did on v1.
func ioMaxLines(b *specs.LinuxBlockIO) ([]string, error) {
	if b == nil {
		return nil, nil
	}
	var devs []*throttle
	find := func(d specs.LinuxThrottleDevice) *throttle {
		for _, t := range devs {
			if t.major == d.Major && t.minor == d.Minor {
				return t
			}
		}
		t := &throttle{major: d.Major, minor: d.Minor}
		devs = append(devs, t)
		return t
	}
	lists := []struct {
		name string
		devs []specs.LinuxThrottleDevice
		slot func(*throttle) **uint64
	}{
		{"throttleReadBpsDevice", b.ThrottleReadBpsDevice, func(t *throttle) **uint64 { return &t.rbps }},
		{"throttleWriteBpsDevice", b.ThrottleWriteBpsDevice, func(t *throttle) **uint64 { return &t.wbps }},
		{"throttleReadIOPSDevice", b.ThrottleReadIOPSDevice, func(t *throttle) **uint64 { return &t.riops }},
		{"throttleWriteIOPSDevice", b.ThrottleWriteIOPSDevice, func(t *throttle) **uint64 { return &t.wiops }},
	}
	for _, l := range lists {
		for i, d := range l.devs {
			if d.Major < 0 || d.Minor < 0 {
				return nil, fmt.Errorf("linux.resources.blockIO.%s[%d]: invalid device %d:%d", l.name, i, d.Major, d.Minor)
			}
			rate := d.Rate
			*l.slot(find(d)) = &rate
		}
	}
	lines := make([]string, 0, len(devs))
	for _, t := range devs {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%d:%d", t.major, t.minor)
		for _, kv := range []struct {
			key string
			v   *uint64
		}{{"rbps", t.rbps}, {"wbps", t.wbps}, {"riops", t.riops}, {"wiops", t.wiops}} {
			if kv.v == nil {
				continue
			}
			val := "max"
			if *kv.v > 0 {
				val = strconv.FormatUint(*kv.v, 10)
			}
			sb.WriteString(" " + kv.key + "=" + val)
		}
		lines = append(lines, sb.String())
	}
	return lines, nil
}

// rdmaLine formats one rdma.max line; it is "" when no limit is set.
func rdmaLine(device string, r specs.LinuxRdma) string {
	var parts []string
	if r.HcaHandles != nil {
		parts = append(parts, "hca_handle="+strconv.FormatUint(uint64(*r.HcaHandles), 10))
	}
	if r.HcaObjects != nil {
		parts = append(parts, "hca_object="+strconv.FormatUint(uint64(*r.HcaObjects), 10))
	}
	if len(parts) == 0 {
		return ""
	}
	return device + " " + strings.Join(parts, " ")
}

// validFileName reports whether name can only name a file directly inside
// the cgroup directory.
func validFileName(name string) bool {
	return name != "" && !strings.Contains(name, "/") && !strings.Contains(name, "..") && name != "."
}
