package libbarco

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/cgroups"
	"github.com/barco-oci/barco/state"
)

// ErrNoCgroup is returned for cgroup operations on a container without one.
var ErrNoCgroup = errors.New("container has no cgroup")

func (c *Container) liveCgroup() (*cgroups.Manager, error) {
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if cg == nil || !cg.Exists() {
		return nil, ErrNoCgroup
	}
	return cg, nil
}

// Pause freezes every process of the container.
func (c *Container) Pause() error {
	if s := c.Status(); s != state.StatusRunning && s != state.StatusCreated {
		return fmt.Errorf("container %q is %s: %w", c.ID, s, ErrNotRunning)
	}
	cg, err := c.liveCgroup()
	if err != nil {
		return err
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if s := c.Status(); s != state.StatusPaused {
		return fmt.Errorf("container %q is not paused: %s", c.ID, s)
	}
	cg, err := c.liveCgroup()
	if err != nil {
		return err
	}
	return cg.Thaw()
}

// Stats returns the container's cgroup statistics.
func (c *Container) Stats() (*cgroups.Stats, error) {
	if s := c.Status(); s == state.StatusStopped || s == state.StatusCreating {
		return nil, ErrNotRunning
	}
	cg, err := c.liveCgroup()
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// MemoryEvents returns the counters of memory.events (oom, oom_kill, ...).
func (c *Container) MemoryEvents() (map[string]uint64, error) {
	cg, err := c.liveCgroup()
	if err != nil {
		return nil, err
	}
	return cg.MemoryEvents()
}

// Update changes the container's resource limits and records them, so the
// stored config stays what the container runs with. The caller holds the
// container's lock.
func (c *Container) Update(r *specs.LinuxResources) error {
	if s := c.Status(); s == state.StatusStopped || s == state.StatusCreating {
		return ErrNotRunning
	}
	if c.st.CgroupDriver == cgroupDriverSystemd {
		unit, err := c.systemdUnit()
		if err != nil {
			return err
		}
		if err := unit.Update(r); err != nil {
			return err
		}
	} else {
		cg, err := c.liveCgroup()
		if err != nil {
			return err
		}
		if err := cg.CheckControllers(r); err != nil {
			return err
		}
		if err := cg.Update(r); err != nil {
			return err
		}
	}
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	cfg.Resources = mergeResources(cfg.Resources, r)
	return c.saveConfig(cfg)
}

// mergeResources overlays the fields set in upd on base.
func mergeResources(base, upd *specs.LinuxResources) *specs.LinuxResources {
	if base == nil {
		return upd
	}
	out := *base
	if upd.Memory != nil {
		m := specs.LinuxMemory{}
		if out.Memory != nil {
			m = *out.Memory
		}
		overlay(&m.Limit, upd.Memory.Limit)
		overlay(&m.Reservation, upd.Memory.Reservation)
		overlay(&m.Swap, upd.Memory.Swap)
		overlay(&m.Swappiness, upd.Memory.Swappiness)
		overlay(&m.DisableOOMKiller, upd.Memory.DisableOOMKiller)
		overlay(&m.CheckBeforeUpdate, upd.Memory.CheckBeforeUpdate)
		out.Memory = &m
	}
	if upd.CPU != nil {
		cpu := specs.LinuxCPU{}
		if out.CPU != nil {
			cpu = *out.CPU
		}
		overlay(&cpu.Shares, upd.CPU.Shares)
		overlay(&cpu.Quota, upd.CPU.Quota)
		overlay(&cpu.Burst, upd.CPU.Burst)
		overlay(&cpu.Period, upd.CPU.Period)
		overlay(&cpu.RealtimeRuntime, upd.CPU.RealtimeRuntime)
		overlay(&cpu.RealtimePeriod, upd.CPU.RealtimePeriod)
		overlay(&cpu.Idle, upd.CPU.Idle)
		if upd.CPU.Cpus != "" {
			cpu.Cpus = upd.CPU.Cpus
		}
		if upd.CPU.Mems != "" {
			cpu.Mems = upd.CPU.Mems
		}
		out.CPU = &cpu
	}
	if upd.Pids != nil {
		out.Pids = upd.Pids
	}
	if upd.BlockIO != nil {
		out.BlockIO = upd.BlockIO
	}
	if upd.HugepageLimits != nil {
		out.HugepageLimits = upd.HugepageLimits
	}
	if upd.Rdma != nil {
		out.Rdma = upd.Rdma
	}
	if upd.Unified != nil {
		u := map[string]string{}
		for k, v := range out.Unified {
			u[k] = v
		}
		for k, v := range upd.Unified {
			u[k] = v
		}
		out.Unified = u
	}
	return &out
}

func overlay[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}
