package seccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	// maxArgs is the number of syscall arguments seccomp can inspect.
	maxArgs = 6
	// maxErrno is the kernel's MAX_ERRNO: larger SECCOMP_RET_ERRNO data
	// is clamped, so it cannot be what the user meant.
	maxErrno = 4095
	// maxTraceMsg is the width of SECCOMP_RET_DATA handed to a tracer.
	maxTraceMsg = 0xffff
)

// notifyHandOff lists syscalls the container init makes after loading the
// filter and before the runtime holds the listener fd: the notify fd travels
// to the runtime with sendmsg, and the sync socket is written with write.
// Notifying them would block the init forever, since no agent has the fd yet.
var notifyHandOff = []string{"write", "sendmsg"}

// Validate checks the seccomp section without compiling or loading it, so
// that mistakes surface at create time. Errors name the JSON path, such as
// `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`. A nil
// section is valid.
func Validate(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	const p = "linux.seccomp"
	if s.DefaultAction == "" {
		return fmt.Errorf("%s.defaultAction: required", p)
	}
	if _, ok := actions.lookup(string(s.DefaultAction)); !ok {
		return fmt.Errorf("%s.defaultAction: unknown action %q", p, s.DefaultAction)
	}
	if s.DefaultAction == specs.ActNotify {
		return fmt.Errorf("%s.defaultAction: %s cannot be the default action: it would stop the runtime's own syscalls", p, specs.ActNotify)
	}
	if err := checkErrnoRet(s.DefaultAction, s.DefaultErrnoRet); err != nil {
		return fmt.Errorf("%s.defaultErrnoRet: %w", p, err)
	}
	for i, a := range s.Architectures {
		if _, ok := archs.lookup(string(a)); !ok {
			return fmt.Errorf("%s.architectures[%d]: unknown architecture %q", p, i, a)
		}
	}
	for i, f := range s.Flags {
		if _, ok := flags.lookup(string(f)); !ok {
			return fmt.Errorf("%s.flags[%d]: unknown flag %q", p, i, f)
		}
	}
	if s.ListenerMetadata != "" && s.ListenerPath == "" {
		return fmt.Errorf("%s.listenerMetadata: set without %s.listenerPath", p, p)
	}
	for i, sc := range s.Syscalls {
		if err := validateSyscall(s, &sc); err != nil {
			return fmt.Errorf("%s.syscalls[%d]%w", p, i, err)
		}
	}
	return nil
}

// validateSyscall returns errors that start with the path below the entry
// (".action: ..."), so the caller only prefixes the entry's own path.
func validateSyscall(s *specs.LinuxSeccomp, sc *specs.LinuxSyscall) error {
	if len(sc.Names) == 0 {
		return errors.New(".names: must contain at least one entry")
	}
	for j, n := range sc.Names {
		if n == "" {
			return fmt.Errorf(".names[%d]: empty syscall name", j)
		}
	}
	if _, ok := actions.lookup(string(sc.Action)); !ok {
		return fmt.Errorf(".action: unknown action %q", sc.Action)
	}
	if sc.Action == specs.ActNotify {
		if s.ListenerPath == "" {
			return fmt.Errorf(".action: %s requires linux.seccomp.listenerPath", specs.ActNotify)
		}
		for j, n := range sc.Names {
			for _, h := range notifyHandOff {
				if n == h {
					return fmt.Errorf(".names[%d]: %s cannot be used for %q: the runtime needs it to hand the listener over", j, specs.ActNotify, n)
				}
			}
		}
	}
	if err := checkErrnoRet(sc.Action, sc.ErrnoRet); err != nil {
		return fmt.Errorf(".errnoRet: %w", err)
	}
	if len(sc.Args) > maxArgs {
		return fmt.Errorf(".args: at most %d arguments, got %d", maxArgs, len(sc.Args))
	}
	for k, a := range sc.Args {
		if a.Index >= maxArgs {
			return fmt.Errorf(".args[%d].index: %d out of range 0-%d", k, a.Index, maxArgs-1)
		}
		if _, ok := operators.lookup(string(a.Op)); !ok {
			return fmt.Errorf(".args[%d].op: unknown operator %q", k, a.Op)
		}
	}
	return nil
}

func checkErrnoRet(action specs.LinuxSeccompAction, ret *uint) error {
	if ret == nil {
		return nil
	}
	switch action {
	case specs.ActErrno:
		if *ret > maxErrno {
			return fmt.Errorf("%d out of range 0-%d", *ret, maxErrno)
		}
	case specs.ActTrace:
		if *ret > maxTraceMsg {
			return fmt.Errorf("%d out of range 0-%d", *ret, maxTraceMsg)
		}
	default:
		return fmt.Errorf("only valid with %s or %s, not %s", specs.ActErrno, specs.ActTrace, action)
	}
	return nil
}
