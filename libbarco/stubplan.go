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

// stubFor returns the execstub's plan for the init of boot, or nil when the
// Go init must finish the process itself. For exec the stub replaces the
// init and makes the terminal and session; for create it waits for start,
// after a set-up from outside or by the Go init (which then execs it). A
// container without a mount namespace keeps the Go init: it needs the
// host's /proc to reach the exec fifo.
func stubFor(boot *bootstrap) (*execstub.Plan, error) {
	cfg := boot.Config
	if !boot.Exec {
		if _, ok := cfg.Namespace(configs.NEWNS); !ok {
			return nil, nil
		}
	}
	plan, err := stubPlan(cfg, boot.Seccomp, 3+boot.PreserveFDs)
	if err != nil || plan == nil {
		return nil, err
	}
	if boot.Exec {
		plan.Terminal = cfg.Process.Terminal
		plan.NewSession = !cfg.Process.Terminal
		plan.ConsoleFD = boot.ConsoleFD
		plan.ConsoleRows, plan.ConsoleCols = uint16(cfg.Process.ConsoleHeight), uint16(cfg.Process.ConsoleWidth)
	} else {
		plan.FifoFD = boot.FifoFD
	}
	return plan, nil
}

// stubFromOutside adapts the plan of a container set up from outside: the
// stub is its init, so it joins the session keyring and, with a terminal,
// takes the pty slave the set-up thread makes.
func stubFromOutside(stub *execstub.Plan, boot *bootstrap) {
	terminal := boot.Config.Process.Terminal
	stub.TTYFromParent = terminal
	stub.NewSession = !terminal
	if !boot.NoNewKeyring {
		stub.SessionKeyring = "_ses." + boot.ID
	}
}
