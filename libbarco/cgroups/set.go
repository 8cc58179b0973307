package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Set applies every linux.resources field to the cgroup. Fields that have no
// cgroup v2 equivalent but that runc accepts (memory.disableOOMKiller,
// memory.kernel, blockIO.leafWeight, ...) are logged as warnings and
// ignored. The device rules always become a device program, so a nil r
// leaves only the runtime-spec default devices usable.
func (m *Manager) Set(r *specs.LinuxResources) error {
	return m.set(r, false)
}

// Update is Set for a running container (`barco update`): r must be the
// complete new resources. A memory limit below the current usage is refused
// when memory.checkBeforeUpdate is true, and the device program is kept when
// r has no device rules.
func (m *Manager) Update(r *specs.LinuxResources) error {
	return m.set(r, true)
}

func (m *Manager) set(r *specs.LinuxResources, update bool) error {
	if err := m.check(); err != nil {
		return err
	}
	if err := m.checkCgroup2(); err != nil {
		return err
	}
	writes, warnings, err := planWrites(r, m.has)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		m.logger().Warn(w, "cgroup", m.Path)
	}
	if update {
		if err := m.checkMemoryUsage(r); err != nil {
			return err
		}
	}
	if err := m.apply(writes); err != nil {
		return err
	}
	if update && (r == nil || r.Devices == nil) {
		return nil
	}
	var devs []specs.LinuxDeviceCgroup
	if r != nil {
		devs = r.Devices
	}
	return m.setDevices(devs)
}

func (m *Manager) logger() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.Default()
}

// has reports whether the cgroup has the interface file name.
func (m *Manager) has(name string) bool {
	_, err := os.Stat(filepath.Join(m.Dir(), name))
	return err == nil
}

// checkMemoryUsage refuses, when memory.checkBeforeUpdate asks for it, a new
// memory limit below what the cgroup uses now: the kernel would otherwise
// reclaim or OOM-kill to get under it.
func (m *Manager) checkMemoryUsage(r *specs.LinuxResources) error {
	if r == nil || r.Memory == nil || r.Memory.CheckBeforeUpdate == nil || !*r.Memory.CheckBeforeUpdate ||
		r.Memory.Limit == nil || *r.Memory.Limit <= 0 {
		return nil
	}
	cur, err := readUint(filepath.Join(m.Dir(), "memory.current"))
	if err != nil {
		return fmt.Errorf("linux.resources.memory.checkBeforeUpdate: %w", err)
	}
	if uint64(*r.Memory.Limit) < cur {
		return fmt.Errorf("linux.resources.memory.limit: %d is below the current usage %d", *r.Memory.Limit, cur)
	}
	return nil
}

// write is one value for one interface file of the cgroup.
type write struct {
	file  string
	value string
	field string // the config.json field it comes from, for errors
	// optional: a missing file is not an error. memory.swap.max is absent
	// when swap accounting is off, and then "no limit" is already true.
	optional bool
	// retryAfterNext: on failure, write the next entry first and then this
	// one again. cpu.max.burst may never exceed the quota, so whether it
	// goes before or after cpu.max depends on the values already there.
	retryAfterNext bool
}

func (m *Manager) apply(writes []write) error {
	for i := 0; i < len(writes); i++ {
		w := writes[i]
		err := m.writeOne(w)
		if err != nil && w.retryAfterNext && i+1 < len(writes) {
			i++
			if err := m.writeOne(writes[i]); err != nil {
				return err
			}
			err = m.writeOne(w)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) writeOne(w write) error {
	err := writeFile(filepath.Join(m.Dir(), w.file), w.value)
	switch {
	case err == nil:
		return nil
	case w.optional && errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		ctrl, _, _ := strings.Cut(w.file, ".")
		return fmt.Errorf("%s: %s does not exist (is the %s controller enabled for %s?)", w.field, w.file, ctrl, m.Path)
	}
	// The path is long and said by the field already: keep the errno.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: write %q to %s: %w", w.field, w.value, w.file, err)
}

// planWrites turns r into the interface file writes that apply it, in order,
// and the warnings for fields that cgroup v2 cannot honour. has tells which
// files the cgroup has: the choice between io.bfq.weight and io.weight, and
// the optional hugetlb rsvd files, depend on it. It has no side effects.
func planWrites(r *specs.LinuxResources, has func(string) bool) ([]write, []string, error) {
	if r == nil {
		return nil, nil, nil
	}
	if _, err := requirements(r); err != nil {
		return nil, nil, err
	}
	var p planner
	p.has = has
	steps := []func(*specs.LinuxResources) error{
		p.pids, p.memory, p.blockIO, p.cpu, p.hugetlb, p.rdma, p.unified,
	}
	for _, step := range steps {
		if err := step(r); err != nil {
			return nil, nil, err
		}
	}
	return p.writes, p.warnings, nil
}

type planner struct {
	has      func(string) bool
	writes   []write
	warnings []string
}

func (p *planner) add(field, file, value string) {
	p.writes = append(p.writes, write{file: file, value: value, field: field})
}

func (p *planner) ignore(field, why string) {
	p.warnings = append(p.warnings, fmt.Sprintf("%s is ignored: %s", field, why))
}

func deref[T any](v *T) T {
	var zero T
	if v == nil {
		return zero
	}
	return *v
}

func (p *planner) pids(r *specs.LinuxResources) error {
	if r.Pids != nil && r.Pids.Limit != nil {
		p.add("linux.resources.pids.limit", "pids.max", pidsMax(*r.Pids.Limit))
	}
	return nil
}

func (p *planner) memory(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	const f = "linux.resources.memory."
	limit := deref(mem.Limit)
	swap, err := swapMax(limit, deref(mem.Swap))
	if err != nil {
		return fmt.Errorf(f+"swap: %w", err)
	}
	if swap != "" {
		p.writes = append(p.writes, write{
			file: "memory.swap.max", value: swap, field: f + "swap",
			optional: swap == "max" || swap == "0",
		})
	}
	if v := limitValue(limit); v != "" {
		p.add(f+"limit", "memory.max", v)
	}
	if v := limitValue(deref(mem.Reservation)); v != "" {
		p.add(f+"reservation", "memory.low", v)
	}
	if mem.Kernel != nil {
		p.ignore(f+"kernel", "kernel memory has no separate limit on cgroup v2")
	}
	if mem.KernelTCP != nil {
		p.ignore(f+"kernelTCP", "kernel TCP memory has no separate limit on cgroup v2")
	}
	if mem.Swappiness != nil {
		p.ignore(f+"swappiness", "not supported on cgroup v2")
	}
	if deref(mem.DisableOOMKiller) {
		p.ignore(f+"disableOOMKiller", "not supported on cgroup v2")
	}
	return nil
}

func (p *planner) cpu(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	const f = "linux.resources.cpu."
	if deref(c.RealtimeRuntime) != 0 {
		return errors.New(f + "realtimeRuntime: not supported on cgroup v2")
	}
	if deref(c.RealtimePeriod) != 0 {
		return errors.New(f + "realtimePeriod: not supported on cgroup v2")
	}
	if w := sharesToWeight(deref(c.Shares)); w != 0 {
		p.add(f+"shares", "cpu.weight", strconv.FormatUint(w, 10))
	}
	quota, period := deref(c.Quota), deref(c.Period)
	switch {
	case quota != 0 || period != 0:
		if c.Burst != nil {
			p.writes = append(p.writes, write{
				file: "cpu.max.burst", value: strconv.FormatUint(*c.Burst, 10),
				field: f + "burst", retryAfterNext: true,
			})
		}
		p.add(f+"quota", "cpu.max", cpuMax(quota, period))
	case c.Burst != nil:
		p.add(f+"burst", "cpu.max.burst", strconv.FormatUint(*c.Burst, 10))
	}
	if c.Idle != nil {
		p.add(f+"idle", "cpu.idle", strconv.FormatInt(*c.Idle, 10))
	}
	if c.Cpus != "" {
		p.add(f+"cpus", "cpuset.cpus", c.Cpus)
	}
	if c.Mems != "" {
		p.add(f+"mems", "cpuset.mems", c.Mems)
	}
	return nil
}

func (p *planner) blockIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	const f = "linux.resources.blockIO."
	// BFQ has its own weight file taking the v1 range as is; without BFQ,
	// io.weight (1..10000) is used, which also takes per-device lines.
	bfq := p.has("io.bfq.weight")
	weight := func(field string, w uint16, dev string) error {
		if bfq {
			p.add(field, "io.bfq.weight", dev+strconv.FormatUint(uint64(w), 10))
			return nil
		}
		v, err := blkioWeightToIOWeight(w)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		p.add(field, "io.weight", dev+strconv.FormatUint(v, 10))
		return nil
	}
	if b.Weight != nil {
		if err := weight(f+"weight", *b.Weight, ""); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil {
		p.ignore(f+"leafWeight", "not supported on cgroup v2")
	}
	for i, wd := range b.WeightDevice {
		field := fmt.Sprintf(f+"weightDevice[%d]", i)
		if wd.LeafWeight != nil {
			p.ignore(field+".leafWeight", "not supported on cgroup v2")
		}
		if wd.Weight == nil {
			continue
		}
		if wd.Major < 0 || wd.Minor < 0 {
			return fmt.Errorf("%s: invalid device %d:%d", field, wd.Major, wd.Minor)
		}
		if err := weight(field+".weight", *wd.Weight, fmt.Sprintf("%d:%d ", wd.Major, wd.Minor)); err != nil {
			return err
		}
	}
	lines, err := ioMaxLines(b)
	if err != nil {
		return err
	}
	for _, l := range lines {
		p.add(f+"throttle*", "io.max", l)
	}
	return nil
}

func (p *planner) hugetlb(r *specs.LinuxResources) error {
	for i, h := range r.HugepageLimits {
		field := fmt.Sprintf("linux.resources.hugepageLimits[%d]", i)
		if !validFileName(h.Pagesize) {
			return fmt.Errorf("%s.pageSize: %q is not a page size", field, h.Pagesize)
		}
		file := "hugetlb." + h.Pagesize + ".max"
		if !p.has(file) {
			return fmt.Errorf("%s.pageSize: no %s in the cgroup (page size %q unsupported, or hugetlb not enabled)",
				field, file, h.Pagesize)
		}
		v := strconv.FormatUint(h.Limit, 10)
		p.add(field+".limit", file, v)
		// Reservations (Linux 5.7+) are limited alike, or a reserved but
		// untouched mapping could exceed the limit.
		if rsvd := "hugetlb." + h.Pagesize + ".rsvd.max"; p.has(rsvd) {
			p.add(field+".limit", rsvd, v)
		}
	}
	return nil
}

func (p *planner) rdma(r *specs.LinuxResources) error {
	devs := make([]string, 0, len(r.Rdma))
	for d := range r.Rdma {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for _, d := range devs {
		field := fmt.Sprintf("linux.resources.rdma[%q]", d)
		if d == "" || strings.ContainsAny(d, " \n") {
			return fmt.Errorf("%s: invalid device name", field)
		}
		if l := rdmaLine(d, r.Rdma[d]); l != "" {
			p.add(field, "rdma.max", l)
		}
	}
	return nil
}

// unified goes last so that its raw values win over the converted ones.
func (p *planner) unified(r *specs.LinuxResources) error {
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := fmt.Sprintf("linux.resources.unified[%q]", k)
		if !validFileName(k) {
			return fmt.Errorf("%s: not a cgroup interface file name", field)
		}
		if !p.has(k) {
			ctrl, _ := unifiedController(k)
			if ctrl != "" {
				return fmt.Errorf("%s: no such cgroup file (is the %s controller enabled?)", field, ctrl)
			}
			return fmt.Errorf("%s: no such cgroup file", field)
		}
		p.add(field, k, r.Unified[k])
	}
	return nil
}
