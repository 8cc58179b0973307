package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/barco-oci/barco/internal/cpulist"
	"github.com/barco-oci/barco/internal/sysfile"
)

// Stats is the cgroup part of the "data" object of `events --stats`, with
// the JSON names runc uses, so that tools reading runc's output read ours.
type Stats struct {
	CPU     CPU                `json:"cpu"`
	CPUSet  CPUSet             `json:"cpuset"`
	Memory  Memory             `json:"memory"`
	Pids    Pids               `json:"pids"`
	Blkio   Blkio              `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb"`
}

// CPU usage is in nanoseconds. cgroup v2 has no per-CPU usage.
type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}

type CPUUsage struct {
	Total  uint64   `json:"total,omitempty"`
	Percpu []uint64 `json:"percpu,omitempty"`
	Kernel uint64   `json:"kernel"`
	User   uint64   `json:"user"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUSet lists the CPUs and memory nodes the cgroup may use.
type CPUSet struct {
	CPUs []uint16 `json:"cpus,omitempty"`
	Mems []uint16 `json:"mems,omitempty"`
}

// Memory follows runc's v1-shaped report: Swap is memory plus swap, as v1's
// memsw counters were, and Raw is memory.stat.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

// MemoryEntry: a Limit of "max" is the largest uint64, as in runc. Failcnt
// counts the times usage hit the limit (the "max" event).
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Pids: a Limit of 0 means no limit.
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Hugetlb is keyed by page size ("2MB") in Stats. cgroup v2 keeps no peak,
// so Max stays 0; Failcnt counts refused allocations.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PSIStats is pressure stall information (cpu.pressure, memory.pressure,
// io.pressure).
type PSIStats struct {
	Some PSIData `json:"some,omitempty"`
	Full PSIData `json:"full,omitempty"`
}

type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

// Stats reads the cgroup's statistics. The parts of controllers the cgroup
// does not have are left empty.
func (m *Manager) Stats() (*Stats, error) {
	if !m.Exists() {
		return nil, fmt.Errorf("stats of cgroup %s: %w", m.Path, fs.ErrNotExist)
	}
	s := &Stats{}
	for _, part := range []func(*Stats) error{m.cpuStats, m.cpusetStats, m.memoryStats, m.pidsStats, m.ioStats, m.hugetlbStats} {
		if err := part(s); err != nil {
			return nil, fmt.Errorf("stats of cgroup %s: %w", m.Path, err)
		}
	}
	return s, nil
}

// MemoryEvents returns the counters of memory.events (low, high, max, oom,
// oom_kill, ...); an "oom_kill" increase means the kernel killed a process of
// the cgroup for lack of memory.
func (m *Manager) MemoryEvents() (map[string]uint64, error) {
	ev, err := readKeyValues(filepath.Join(m.Dir(), "memory.events"))
	if err != nil {
		return nil, fmt.Errorf("memory events of cgroup %s: %w", m.Path, err)
	}
	return ev, nil
}

// optional turns a missing file into "nothing to report".
func optional(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (m *Manager) file(name string) string {
	return filepath.Join(m.Dir(), name)
}

func (m *Manager) cpuStats(s *Stats) error {
	st, err := readKeyValues(m.file("cpu.stat"))
	if err != nil {
		return optional(err)
	}
	s.CPU.Usage = CPUUsage{
		Total:  st["usage_usec"] * 1000,
		User:   st["user_usec"] * 1000,
		Kernel: st["system_usec"] * 1000,
	}
	s.CPU.Throttling = Throttling{
		Periods:          st["nr_periods"],
		ThrottledPeriods: st["nr_throttled"],
		ThrottledTime:    st["throttled_usec"] * 1000,
	}
	s.CPU.PSI, err = readPSI(m.file("cpu.pressure"))
	return err
}

func (m *Manager) cpusetStats(s *Stats) error {
	for _, f := range []struct {
		name string
		dst  *[]uint16
	}{{"cpuset.cpus.effective", &s.CPUSet.CPUs}, {"cpuset.mems.effective", &s.CPUSet.Mems}} {
		data, err := sysfile.Read(m.file(f.name))
		if err != nil {
			if err := optional(err); err != nil {
				return err
			}
			continue
		}
		if *f.dst, err = parseList(strings.TrimSpace(string(data))); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

func (m *Manager) memoryStats(s *Stats) error {
	usage, err := readUint(m.file("memory.current"))
	if err != nil {
		return optional(err) // no memory controller
	}
	raw, err := readKeyValues(m.file("memory.stat"))
	if err != nil {
		return err
	}
	limit, err := readUint(m.file("memory.max"))
	if err != nil {
		return err
	}
	events, err := readKeyValues(m.file("memory.events"))
	if err != nil {
		return err
	}
	var peak uint64
	if peak, err = readUint(m.file("memory.peak")); optional(err) != nil { // Linux 5.19+
		return err
	}
	s.Memory.Raw = raw
	s.Memory.Cache = raw["file"]
	s.Memory.Usage = MemoryEntry{Usage: usage, Max: peak, Limit: limit, Failcnt: events["max"]}
	s.Memory.Kernel = MemoryEntry{Usage: raw["kernel"]}
	s.Memory.KernelTCP = MemoryEntry{Usage: raw["sock"]}

	// No swap accounting: no swap files.
	swap, err := readUint(m.file("memory.swap.current"))
	if err == nil {
		swapLimit, err := readUint(m.file("memory.swap.max"))
		if err != nil {
			return err
		}
		swapEvents, err := readKeyValues(m.file("memory.swap.events"))
		if optional(err) != nil {
			return err
		}
		s.Memory.Swap = MemoryEntry{Usage: usage + swap, Limit: addLimits(limit, swapLimit), Failcnt: swapEvents["max"]}
	} else if optional(err) != nil {
		return err
	}
	s.Memory.PSI, err = readPSI(m.file("memory.pressure"))
	return err
}

// addLimits adds two limits, where either being unlimited makes the sum so.
func addLimits(a, b uint64) uint64 {
	if a == maxValue || b == maxValue || a+b < a {
		return maxValue
	}
	return a + b
}

func (m *Manager) pidsStats(s *Stats) error {
	cur, err := readUint(m.file("pids.current"))
	if err != nil {
		return optional(err)
	}
	limit, err := readUint(m.file("pids.max"))
	if err != nil {
		return err
	}
	if limit == maxValue {
		limit = 0
	}
	s.Pids = Pids{Current: cur, Limit: limit}
	return nil
}

func (m *Manager) ioStats(s *Stats) error {
	data, err := sysfile.Read(m.file("io.stat"))
	if err != nil {
		return optional(err)
	}
	if err := parseIOStat(string(data), &s.Blkio); err != nil {
		return fmt.Errorf("io.stat: %w", err)
	}
	s.Blkio.PSI, err = readPSI(m.file("io.pressure"))
	return err
}

// parseIOStat fills b from io.stat lines ("8:0 rbytes=1 wbytes=2 rios=3
// wios=4 dbytes=0 dios=0"), with v1's operation names.
func parseIOStat(content string, b *Blkio) error {
	for _, line := range strings.Split(content, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		maj, min, ok := strings.Cut(fields[0], ":")
		if !ok {
			return fmt.Errorf("bad device in line %q", line)
		}
		major, err1 := strconv.ParseUint(maj, 10, 64)
		minor, err2 := strconv.ParseUint(min, 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad device in line %q", line)
		}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("bad field %q", kv)
			}
			var dst *[]BlkioEntry
			var op string
			switch k {
			case "rbytes":
				dst, op = &b.IoServiceBytesRecursive, "Read"
			case "wbytes":
				dst, op = &b.IoServiceBytesRecursive, "Write"
			case "dbytes":
				dst, op = &b.IoServiceBytesRecursive, "Discard"
			case "rios":
				dst, op = &b.IoServicedRecursive, "Read"
			case "wios":
				dst, op = &b.IoServicedRecursive, "Write"
			case "dios":
				dst, op = &b.IoServicedRecursive, "Discard"
			default:
				continue // cost.* and other extensions
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("bad field %q", kv)
			}
			*dst = append(*dst, BlkioEntry{Major: major, Minor: minor, Op: op, Value: n})
		}
	}
	return nil
}

func (m *Manager) hugetlbStats(s *Stats) error {
	files, err := filepath.Glob(m.file("hugetlb.*.current"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "hugetlb."), ".current")
		if strings.Contains(size, ".") { // hugetlb.2MB.rsvd.current
			continue
		}
		usage, err := readUint(f)
		if err != nil {
			return err
		}
		ev, err := readKeyValues(m.file("hugetlb." + size + ".events"))
		if optional(err) != nil {
			return err
		}
		if s.Hugetlb == nil {
			s.Hugetlb = map[string]Hugetlb{}
		}
		s.Hugetlb[size] = Hugetlb{Usage: usage, Failcnt: ev["max"]}
	}
	return nil
}

// readPSI reads a pressure file; it is nil when the kernel has no PSI.
func readPSI(name string) (*PSIStats, error) {
	data, err := sysfile.Read(name)
	if err != nil {
		// PSI compiled in but disabled (psi=0) fails the read with EOPNOTSUPP.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errors.ErrUnsupported) {
			return nil, nil
		}
		return nil, err
	}
	p, err := parsePSI(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return p, nil
}

// parsePSI parses "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" lines.
func parsePSI(content string) (*PSIStats, error) {
	p := &PSIStats{}
	for _, line := range strings.Split(content, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var d *PSIData
		switch fields[0] {
		case "some":
			d = &p.Some
		case "full":
			d = &p.Full
		default:
			return nil, fmt.Errorf("bad line %q", line)
		}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("bad field %q", kv)
			}
			var err error
			switch k {
			case "avg10":
				d.Avg10, err = strconv.ParseFloat(v, 64)
			case "avg60":
				d.Avg60, err = strconv.ParseFloat(v, 64)
			case "avg300":
				d.Avg300, err = strconv.ParseFloat(v, 64)
			case "total":
				d.Total, err = strconv.ParseUint(v, 10, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("bad field %q", kv)
			}
		}
	}
	return p, nil
}

// parseList parses a cpuset list such as "0-3,8,10-11".
func parseList(s string) ([]uint16, error) {
	nums, err := cpulist.Parse(s, 1<<16)
	if err != nil {
		return nil, err
	}
	out := make([]uint16, len(nums))
	for i, n := range nums {
		out[i] = uint16(n)
	}
	return out, nil
}
