package cgroups

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// requirement is a controller the resources need, with the config.json field
// that first needs it, so that errors point at what the user wrote.
type requirement struct {
	controller string
	field      string
}

// RequiredControllers returns the cgroup v2 controllers that r needs, sorted.
// Device rules need none: on cgroup v2 they are an eBPF program.
func RequiredControllers(r *specs.LinuxResources) ([]string, error) {
	reqs, err := requirements(r)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(reqs))
	for i, q := range reqs {
		names[i] = q.controller
	}
	return names, nil
}

// field is one possibly set resource field and its JSON name.
type field struct {
	set  bool
	name string
}

// firstSet returns the path of the first set field.
func firstSet(prefix string, fields ...field) (string, bool) {
	for _, f := range fields {
		if f.set {
			return prefix + f.name, true
		}
	}
	return "", false
}

// requirements lists the controllers r needs, one entry per controller,
// sorted by controller name.
func requirements(r *specs.LinuxResources) ([]requirement, error) {
	if r == nil {
		return nil, nil
	}
	// net_cls and net_prio exist only in cgroup v1.
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		return nil, errors.New("linux.resources.network: not supported on cgroup v2")
	}

	first := map[string]string{}
	need := func(controller, field string) {
		if _, ok := first[controller]; !ok {
			first[controller] = field
		}
	}
	if m := r.Memory; m != nil {
		if f, ok := firstSet("linux.resources.memory.",
			field{m.Limit != nil, "limit"},
			field{m.Reservation != nil, "reservation"},
			field{m.Swap != nil, "swap"},
			field{m.Kernel != nil, "kernel"},
			field{m.KernelTCP != nil, "kernelTCP"},
			field{m.Swappiness != nil, "swappiness"},
			field{m.DisableOOMKiller != nil, "disableOOMKiller"},
			field{m.UseHierarchy != nil, "useHierarchy"},
			field{m.CheckBeforeUpdate != nil, "checkBeforeUpdate"},
		); ok {
			need("memory", f)
		}
	}
	if c := r.CPU; c != nil {
		if f, ok := firstSet("linux.resources.cpu.",
			field{c.Shares != nil, "shares"},
			field{c.Quota != nil, "quota"},
			field{c.Period != nil, "period"},
			field{c.Burst != nil, "burst"},
			field{c.RealtimeRuntime != nil, "realtimeRuntime"},
			field{c.RealtimePeriod != nil, "realtimePeriod"},
			field{c.Idle != nil, "idle"},
		); ok {
			need("cpu", f)
		}
		if f, ok := firstSet("linux.resources.cpu.",
			field{c.Cpus != "", "cpus"},
			field{c.Mems != "", "mems"},
		); ok {
			need("cpuset", f)
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		need("pids", "linux.resources.pids.limit")
	}
	if b := r.BlockIO; b != nil {
		if f, ok := firstSet("linux.resources.blockIO.",
			field{b.Weight != nil, "weight"},
			field{b.LeafWeight != nil, "leafWeight"},
			field{len(b.WeightDevice) > 0, "weightDevice"},
			field{len(b.ThrottleReadBpsDevice) > 0, "throttleReadBpsDevice"},
			field{len(b.ThrottleWriteBpsDevice) > 0, "throttleWriteBpsDevice"},
			field{len(b.ThrottleReadIOPSDevice) > 0, "throttleReadIOPSDevice"},
			field{len(b.ThrottleWriteIOPSDevice) > 0, "throttleWriteIOPSDevice"},
		); ok {
			need("io", f)
		}
	}
	if len(r.HugepageLimits) > 0 {
		need("hugetlb", "linux.resources.hugepageLimits")
	}
	if len(r.Rdma) > 0 {
		need("rdma", "linux.resources.rdma")
	}
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := fmt.Sprintf("linux.resources.unified[%q]", k)
		ctrl, err := unifiedController(k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if ctrl != "" {
			need(ctrl, f)
		}
	}

	reqs := make([]requirement, 0, len(first))
	for c, f := range first {
		reqs = append(reqs, requirement{controller: c, field: f})
	}
	slices.SortFunc(reqs, func(a, b requirement) int { return strings.Compare(a.controller, b.controller) })
	return reqs, nil
}

// unifiedController returns the controller owning the interface file key
// ("memory.max" → "memory"); the core "cgroup.*" files need none. The key is
// a file name inside the cgroup, so anything path-like is refused here.
func unifiedController(key string) (string, error) {
	if key == "" || strings.Contains(key, "/") || strings.Trim(key, ".") == "" {
		return "", errors.New("not a cgroup interface file name")
	}
	ctrl, _, ok := strings.Cut(key, ".")
	if !ok || ctrl == "" {
		return "", errors.New("not a cgroup interface file name (want <controller>.<file>)")
	}
	if ctrl == "cgroup" {
		return "", nil
	}
	return ctrl, nil
}

// CheckControllers reports, naming each missing controller and the field that
// needs it, when r needs controllers the hierarchy does not offer this
// cgroup. barco fails rather than silently ignoring a limit.
func (m *Manager) CheckControllers(r *specs.LinuxResources) error {
	reqs, err := requirements(r)
	if err != nil || len(reqs) == 0 {
		return err
	}
	dir, avail, err := m.controllers()
	if err != nil {
		return err
	}
	var names, fields []string
	for _, q := range reqs {
		if !slices.Contains(avail, q.controller) {
			names = append(names, fmt.Sprintf("%q", q.controller))
			fields = append(fields, q.field)
		}
	}
	switch len(names) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("cgroup v2 controller %s is not available at %s (%s)", names[0], dir, fields[0])
	default:
		return fmt.Errorf("cgroup v2 controllers %s are not available at %s (%s)",
			strings.Join(names, ", "), dir, strings.Join(fields, ", "))
	}
}
