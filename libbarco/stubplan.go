package libbarco

import (
	"github.com/barco-oci/barco/libbarco/caps"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/execstub"
	"github.com/barco-oci/barco/libbarco/seccomp"
)

// stubPlan describes the last steps of process p (processSteps, the wait
// for start and the execve) for the execstub, which does them without a Go
// runtime. It returns nil when p needs something only the Go init does:
// scheduler, I/O priority, personality or LSM labels, a memory policy, a
// seccomp listener to hand over, or startContainer hooks. The fds are the
// ones the init will have; -1 for none.
func stubPlan(cfg *configs.Config, filter *seccomp.Program, firstClosedFD int) (*execstub.Plan, error) {
	p := &cfg.Process
	if len(p.Args) == 0 || p.Scheduler != nil || p.IOPriority != nil || p.Personality != nil ||
		p.ApparmorProfile != "" || p.SelinuxLabel != "" || cfg.MemoryPolicy != nil ||
		len(cfg.Hooks.StartContainer) > 0 || (filter != nil && filter.Notify()) {
		return nil, nil
	}
	plan := &execstub.Plan{
		ConsoleFD:     -1,
		FifoFD:        -1,
		FirstClosedFD: firstClosedFD,
		OOMScoreAdj:   p.OOMScoreAdj,
		Cwd:           p.Cwd,
		UID:           p.UID,
		GID:           p.GID,
		Groups:        p.AdditionalGids,
		Umask:         p.Umask,
		NoNewPrivs:    p.NoNewPrivileges,
		Args:          p.Args,
		Env:           p.Env,
	}
	for _, rl := range p.Rlimits {
		plan.Rlimits = append(plan.Rlimits, execstub.Rlimit{Type: uint32(rl.Type), Soft: rl.Soft, Hard: rl.Hard})
	}
	if p.Capabilities != nil {
		sets, err := caps.Resolve(p.Capabilities, nil)
		if err != nil {
			return nil, err
		}
		m, err := sets.Masks()
		if err != nil {
			return nil, err
		}
		plan.Caps = &m
	}
	if filter != nil {
		raw, flags, err := filter.Raw()
		if err != nil {
			return nil, err
		}
		plan.Seccomp, plan.SeccompFlags = raw, flags
		// Without no_new_privs the filter needs CAP_SYS_ADMIN: load it
		// while still root (processSteps does the same).
		plan.SeccompEarly = !p.NoNewPrivileges
	}
	return plan, nil
}
