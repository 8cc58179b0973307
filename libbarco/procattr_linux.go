package libbarco

import (
	"fmt"
	"os"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

// The scheduler, I/O priority and personality are attributes of the
// calling thread (the one that execs) and are inherited across execve.

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

// schedAttr converts process.scheduler to sched_setattr(2)'s argument.
func schedAttr(s *specs.Scheduler) (*unix.SchedAttr, error) {
	policy, ok := schedPolicies[s.Policy]
	if !ok {
		return nil, fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
	}
	attr := &unix.SchedAttr{
		Policy:   policy,
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		v, ok := schedFlags[f]
		if !ok {
			return nil, fmt.Errorf("process.scheduler.flags: unknown flag %q", f)
		}
		attr.Flags |= v
	}
	return attr, nil
}

var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

// ioprioValue is the ioprio_set(2) value: the class in the top bits.
func ioprioValue(p *specs.LinuxIOPriority) (int, error) {
	class, ok := ioprioClasses[p.Class]
	if !ok {
		return 0, fmt.Errorf("process.ioPriority.class: unknown class %q", p.Class)
	}
	return class<<13 | p.Priority, nil
}

var personalityDomains = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux: 0x0000, specs.PerLinux32: 0x0008,
}

func applyProcessAttrs(p *configs.Process) error {
	if p.Scheduler != nil {
		attr, err := schedAttr(p.Scheduler)
		if err != nil {
			return err
		}
		if err := unix.SchedSetAttr(0, attr, 0); err != nil {
			return fmt.Errorf("process.scheduler: sched_setattr: %w", err)
		}
	}
	if p.IOPriority != nil {
		v, err := ioprioValue(p.IOPriority)
		if err != nil {
			return err
		}
		const ioprioWhoProcess = 1
		if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(v)); e != 0 {
			return fmt.Errorf("process.ioPriority: ioprio_set: %w", e)
		}
	}
	if p.Personality != nil {
		domain, ok := personalityDomains[p.Personality.Domain]
		if !ok {
			return fmt.Errorf("linux.personality.domain: unknown domain %q", p.Personality.Domain)
		}
		if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, domain, 0, 0); e != 0 {
			return fmt.Errorf("linux.personality: %w", e)
		}
	}
	return nil
}

// applyLSMLabels asks the kernel to put the container process in its
// AppArmor profile and SELinux label at execve. AppArmor requested on a
// host without it is an error; an SELinux label on a host without SELinux
// is ignored, as runc does.
func applyLSMLabels(p *configs.Process) error {
	if p.ApparmorProfile != "" {
		if !apparmorEnabled() {
			return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", p.ApparmorProfile)
		}
		if err := writeProcAttr("apparmor/exec", "exec "+p.ApparmorProfile); err != nil {
			if err2 := writeProcAttr("exec", "exec "+p.ApparmorProfile); err2 != nil {
				return fmt.Errorf("process.apparmorProfile %q: %w", p.ApparmorProfile, err)
			}
		}
	}
	if p.SelinuxLabel != "" && selinuxEnabled() {
		if err := writeProcAttr("exec", p.SelinuxLabel); err != nil {
			return fmt.Errorf("process.selinuxLabel %q: %w", p.SelinuxLabel, err)
		}
	}
	return nil
}

func apparmorEnabled() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(data) > 0 && data[0] == 'Y'
}

func selinuxEnabled() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
}

// writeProcAttr writes an LSM attribute of the calling thread.
func writeProcAttr(name, value string) error {
	return writeProcFile("/proc/thread-self/attr/"+name, value)
}

// writeProcFile writes a procfs knob after checking that the file opened
// is really on procfs: a mount the config put over /proc must not redirect
// the runtime's write elsewhere (CVE-2025-52881).
func writeProcFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not on procfs", path)
	}
	_, err = f.WriteString(value)
	return err
}

// setMemoryPolicy applies linux.memoryPolicy to the calling thread; the
// policy is inherited by the process it execs.
func setMemoryPolicy(mp *configs.MemoryPolicy) error {
	if mp == nil {
		return nil
	}
	var mask, maxnode uintptr
	if len(mp.Nodemask) > 0 {
		mask = uintptr(unsafe.Pointer(&mp.Nodemask[0]))
		// The kernel reads maxnode-1 bits.
		maxnode = uintptr(len(mp.Nodemask)*64 + 1)
	}
	if _, _, e := unix.Syscall(unix.SYS_SET_MEMPOLICY, uintptr(mp.Mode), mask, maxnode); e != 0 {
		return fmt.Errorf("linux.memoryPolicy: set_mempolicy: %w", e)
	}
	return nil
}
