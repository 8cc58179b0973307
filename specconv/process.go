package specconv

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/cpulist"
	"github.com/barco-oci/barco/libbarco/configs"
)

func convertProcess(spec *specs.Spec, c *configs.Config) error {
	var personality *specs.LinuxPersonality
	if spec.Linux != nil {
		personality = spec.Linux.Personality
	}
	if err := checkPersonality(personality); err != nil {
		return err
	}
	// runtime-spec requires a process only for start: a container created
	// without one fails at start (configs.Process.Args stays empty).
	if spec.Process == nil {
		return nil
	}
	proc, err := ConvertProcess(spec.Process)
	if err != nil {
		return err
	}
	proc.Personality = personality
	c.Process = *proc
	return nil
}

// ConvertProcess validates and converts a process object on its own, as
// `exec --process` passes it. Error paths start with "process.".
func ConvertProcess(p *specs.Process) (*configs.Process, error) {
	if p == nil {
		return nil, fieldErr("process", "required")
	}
	if len(p.Args) == 0 {
		return nil, fieldErr("process.args", "must not be empty")
	}
	if p.Args[0] == "" {
		return nil, fieldErr("process.args[0]", "must not be empty")
	}
	if p.Cwd == "" {
		return nil, fieldErr("process.cwd", "required")
	}
	if !filepath.IsAbs(p.Cwd) {
		return nil, fieldErr("process.cwd", "%q must be absolute", p.Cwd)
	}
	for i, kv := range p.Env {
		if err := checkEnv(kv); err != nil {
			return nil, fieldErr(index("process.env", i), "%w", err)
		}
	}
	if p.User.Umask != nil && *p.User.Umask > 0o777 {
		return nil, fieldErr("process.user.umask", "%#o is not a permission mask", *p.User.Umask)
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return nil, fieldErr("process.oomScoreAdj", "%d is outside [-1000, 1000]", *p.OOMScoreAdj)
	}
	caps, err := convertCapabilities(p.Capabilities)
	if err != nil {
		return nil, err
	}
	rlimits, err := convertRlimits(p.Rlimits)
	if err != nil {
		return nil, err
	}
	if err := checkScheduler(p.Scheduler); err != nil {
		return nil, err
	}
	if err := checkIOPriority(p.IOPriority); err != nil {
		return nil, err
	}
	affinity, err := convertCPUAffinity(p.ExecCPUAffinity)
	if err != nil {
		return nil, err
	}
	proc := &configs.Process{
		Args:            append([]string(nil), p.Args...),
		Env:             append([]string(nil), p.Env...),
		Cwd:             filepath.Clean(p.Cwd),
		UID:             p.User.UID,
		GID:             p.User.GID,
		AdditionalGids:  append([]uint32(nil), p.User.AdditionalGids...),
		Umask:           p.User.Umask,
		Terminal:        p.Terminal,
		Capabilities:    caps,
		Rlimits:         rlimits,
		NoNewPrivileges: p.NoNewPrivileges,
		OOMScoreAdj:     p.OOMScoreAdj,
		ApparmorProfile: p.ApparmorProfile,
		SelinuxLabel:    p.SelinuxLabel,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
		ExecCPUAffinity: affinity,
	}
	// The spec says consoleSize is ignored without a terminal.
	if p.Terminal && p.ConsoleSize != nil {
		proc.ConsoleHeight = p.ConsoleSize.Height
		proc.ConsoleWidth = p.ConsoleSize.Width
	}
	return proc, nil
}

func checkEnv(kv string) error {
	name, _, ok := strings.Cut(kv, "=")
	switch {
	case !ok:
		return fmt.Errorf("%q is not NAME=VALUE", kv)
	case name == "":
		return fmt.Errorf("%q has an empty name", kv)
	case strings.IndexByte(kv, 0) >= 0:
		return fmt.Errorf("%q contains a NUL byte", kv)
	}
	return nil
}

// capabilityNames maps "CAP_CHOWN" to "chown" for every capability the
// capability library knows, whether or not the running kernel has it: the
// kernel check belongs to the process that applies the sets.
func capabilityNames() map[string]string {
	known := capability.ListKnown()
	names := make(map[string]string, len(known))
	for _, c := range known {
		names["CAP_"+strings.ToUpper(c.String())] = c.String()
	}
	return names
}

// convertCapabilities keeps nil as nil: a spec without a capabilities
// object is different from one with five empty sets.
func convertCapabilities(in *specs.LinuxCapabilities) (*configs.Capabilities, error) {
	if in == nil {
		return nil, nil
	}
	names := capabilityNames()
	conv := func(set string, list []string) ([]string, error) {
		if list == nil {
			return nil, nil
		}
		out := make([]string, 0, len(list))
		for i, name := range list {
			short, ok := names[name]
			if !ok {
				return nil, fieldErr(index("process.capabilities."+set, i), "unknown capability %q", name)
			}
			out = append(out, short)
		}
		return out, nil
	}
	var (
		out configs.Capabilities
		err error
	)
	if out.Bounding, err = conv("bounding", in.Bounding); err != nil {
		return nil, err
	}
	if out.Effective, err = conv("effective", in.Effective); err != nil {
		return nil, err
	}
	if out.Inheritable, err = conv("inheritable", in.Inheritable); err != nil {
		return nil, err
	}
	if out.Permitted, err = conv("permitted", in.Permitted); err != nil {
		return nil, err
	}
	if out.Ambient, err = conv("ambient", in.Ambient); err != nil {
		return nil, err
	}
	return &out, nil
}

// rlimitNumber maps an RLIMIT_* name to its number on this architecture
// (the numbers differ on mips and sparc, hence x/sys rather than literals).
func rlimitNumber(name string) (int, bool) {
	switch name {
	case "RLIMIT_AS":
		return unix.RLIMIT_AS, true
	case "RLIMIT_CORE":
		return unix.RLIMIT_CORE, true
	case "RLIMIT_CPU":
		return unix.RLIMIT_CPU, true
	case "RLIMIT_DATA":
		return unix.RLIMIT_DATA, true
	case "RLIMIT_FSIZE":
		return unix.RLIMIT_FSIZE, true
	case "RLIMIT_LOCKS":
		return unix.RLIMIT_LOCKS, true
	case "RLIMIT_MEMLOCK":
		return unix.RLIMIT_MEMLOCK, true
	case "RLIMIT_MSGQUEUE":
		return unix.RLIMIT_MSGQUEUE, true
	case "RLIMIT_NICE":
		return unix.RLIMIT_NICE, true
	case "RLIMIT_NOFILE":
		return unix.RLIMIT_NOFILE, true
	case "RLIMIT_NPROC":
		return unix.RLIMIT_NPROC, true
	case "RLIMIT_RSS":
		return unix.RLIMIT_RSS, true
	case "RLIMIT_RTPRIO":
		return unix.RLIMIT_RTPRIO, true
	case "RLIMIT_RTTIME":
		return unix.RLIMIT_RTTIME, true
	case "RLIMIT_SIGPENDING":
		return unix.RLIMIT_SIGPENDING, true
	case "RLIMIT_STACK":
		return unix.RLIMIT_STACK, true
	}
	return 0, false
}

func convertRlimits(in []specs.POSIXRlimit) ([]configs.Rlimit, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]configs.Rlimit, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, rl := range in {
		p := index("process.rlimits", i)
		n, ok := rlimitNumber(rl.Type)
		if !ok {
			return nil, fieldErr(p+".type", "unknown rlimit %q", rl.Type)
		}
		if seen[rl.Type] {
			return nil, fieldErr(p+".type", "duplicate rlimit %q", rl.Type)
		}
		seen[rl.Type] = true
		if rl.Soft > rl.Hard {
			return nil, fieldErr(p, "soft limit %d exceeds hard limit %d", rl.Soft, rl.Hard)
		}
		out = append(out, configs.Rlimit{Type: n, Soft: rl.Soft, Hard: rl.Hard})
	}
	return out, nil
}

// checkScheduler applies sched_setattr(2)'s rules early, where the error
// can still point at the field.
func checkScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	switch s.Policy {
	case "":
		return fieldErr("process.scheduler.policy", "required")
	case specs.SchedOther, specs.SchedFIFO, specs.SchedRR, specs.SchedBatch,
		specs.SchedISO, specs.SchedIdle, specs.SchedDeadline:
	default:
		return fieldErr("process.scheduler.policy", "unknown policy %q", s.Policy)
	}
	if s.Nice < -20 || s.Nice > 19 {
		return fieldErr("process.scheduler.nice", "%d is outside [-20, 19]", s.Nice)
	}
	if s.Priority != 0 && s.Policy != specs.SchedFIFO && s.Policy != specs.SchedRR {
		return fieldErr("process.scheduler.priority", "only valid with SCHED_FIFO or SCHED_RR")
	}
	if s.Policy != specs.SchedDeadline && (s.Runtime != 0 || s.Deadline != 0 || s.Period != 0) {
		return fieldErr("process.scheduler", "runtime, deadline and period are only valid with SCHED_DEADLINE")
	}
	for i, f := range s.Flags {
		switch f {
		case specs.SchedFlagResetOnFork, specs.SchedFlagReclaim, specs.SchedFlagDLOverrun,
			specs.SchedFlagKeepPolicy, specs.SchedFlagKeepParams,
			specs.SchedFlagUtilClampMin, specs.SchedFlagUtilClampMax:
		default:
			return fieldErr(index("process.scheduler.flags", i), "unknown flag %q", f)
		}
	}
	return nil
}

func checkIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	switch p.Class {
	case specs.IOPRIO_CLASS_RT, specs.IOPRIO_CLASS_BE, specs.IOPRIO_CLASS_IDLE:
	default:
		return fieldErr("process.ioPriority.class", "unknown class %q", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return fieldErr("process.ioPriority.priority", "%d is outside [0, 7]", p.Priority)
	}
	return nil
}

func checkPersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	if p.Domain != specs.PerLinux && p.Domain != specs.PerLinux32 {
		return fieldErr("linux.personality.domain", "unknown domain %q", p.Domain)
	}
	return nil
}

// maxCPUs is the size of the CPU set sched_setaffinity takes here
// (CPU_SETSIZE).
const maxCPUs = 1024

// convertCPUAffinity parses process.execCPUAffinity's CPU lists. Nil when
// neither is set.
func convertCPUAffinity(a *specs.CPUAffinity) (*configs.CPUAffinity, error) {
	if a == nil || a.Initial == "" && a.Final == "" {
		return nil, nil
	}
	initial, err := cpulist.Parse(a.Initial, maxCPUs)
	if err != nil {
		return nil, fieldErr("process.execCPUAffinity.initial", "%w", err)
	}
	final, err := cpulist.Parse(a.Final, maxCPUs)
	if err != nil {
		return nil, fieldErr("process.execCPUAffinity.final", "%w", err)
	}
	return &configs.CPUAffinity{Initial: initial, Final: final}, nil
}
