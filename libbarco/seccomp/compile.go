package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Program is a compiled filter, ready for Load.
type Program struct {
	insns []unix.SockFilter
	// flags are the seccomp(2) flags the spec asked for; Load adds the
	// ones that follow from the program (NEW_LISTENER, TSYNC_ESRCH).
	flags  uint
	notify bool
}

// Notify reports whether the program uses SCMP_ACT_NOTIFY, that is whether
// Load returns a listener fd that must reach the seccomp agent.
func (p *Program) Notify() bool { return p.notify }

// Len returns the number of BPF instructions.
func (p *Program) Len() int { return len(p.insns) }

// sockFilterSize is the size of struct sock_filter: u16 code, u8 jt, u8 jf,
// u32 k.
const sockFilterSize = 8

// Compile validates s and builds its BPF program with libseccomp.
//
// Syscall names the installed libseccomp does not know are skipped and
// logged at debug level (log may be nil): profiles list syscalls of newer
// kernels, and refusing them would make a profile unusable on older hosts.
// Rules whose action equals the default action are skipped too, since
// libseccomp rejects them and they change nothing.
func Compile(s *specs.LinuxSeccomp, log *slog.Logger) (*Program, error) {
	if s == nil {
		return nil, errors.New("linux.seccomp: no seccomp section to compile")
	}
	if err := Validate(s); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	raw, err := buildBPF(s, log)
	if err != nil {
		return nil, err
	}
	insns, err := decodeInsns(raw)
	if err != nil {
		return nil, err
	}
	p := &Program{insns: insns, notify: usesNotify(s)}
	for _, f := range s.Flags {
		bit, _ := flags.lookup(string(f))
		p.flags |= bit
	}
	return p, nil
}

func buildBPF(s *specs.LinuxSeccomp, log *slog.Logger) ([]byte, error) {
	const p = "linux.seccomp"
	def := ruleAction(s.DefaultAction, s.DefaultErrnoRet)
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("%s.defaultAction: new filter: %w", p, err)
	}
	defer f.Release()
	for i, name := range s.Architectures {
		arch, _ := archs.lookup(string(name))
		if err := f.AddArch(arch); err != nil {
			return nil, fmt.Errorf("%s.architectures[%d]: add %s: %w", p, i, name, err)
		}
	}
	// A binary tree over syscall numbers keeps long allow lists fast to
	// evaluate; libseccomp before 2.5 lacks it, and the linear program
	// it makes instead is still correct.
	if len(s.Syscalls) > 8 {
		var verr *libseccomp.VersionError
		if err := f.SetOptimize(2); err != nil && !errors.As(err, &verr) {
			return nil, fmt.Errorf("%s: set binary tree optimization: %w", p, err)
		}
	}
	for i := range s.Syscalls {
		if err := addRules(f, &s.Syscalls[i], def, log); err != nil {
			return nil, fmt.Errorf("%s.syscalls[%d]%w", p, i, err)
		}
	}
	return exportBPF(f)
}

// ruleAction converts a validated action name, giving ERRNO and TRACE their
// return code (EPERM unless the spec says otherwise).
func ruleAction(name specs.LinuxSeccompAction, errnoRet *uint) libseccomp.ScmpAction {
	act, _ := actions.lookup(string(name))
	if act == libseccomp.ActErrno || act == libseccomp.ActTrace {
		code := uint(unix.EPERM)
		if errnoRet != nil {
			code = *errnoRet
		}
		act = act.SetReturnCode(int16(code))
	}
	return act
}

// addRules adds one syscalls[] entry. Errors start with the path below the
// entry.
func addRules(f *libseccomp.ScmpFilter, sc *specs.LinuxSyscall, def libseccomp.ScmpAction, log *slog.Logger) error {
	act := ruleAction(sc.Action, sc.ErrnoRet)
	if act == def {
		log.Debug("seccomp: rule repeats the default action, skipping", "syscalls", sc.Names, "action", sc.Action)
		return nil
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(sc.Args))
	seen := [maxArgs]int{}
	split := false
	for k, a := range sc.Args {
		op, _ := operators.lookup(string(a.Op))
		values := []uint64{a.Value}
		if op == libseccomp.CompareMaskedEqual {
			values = append(values, a.ValueTwo) // mask, then the value to compare with
		}
		c, err := libseccomp.MakeCondition(a.Index, op, values...)
		if err != nil {
			return fmt.Errorf(".args[%d]: %w", k, err)
		}
		conds = append(conds, c)
		seen[a.Index]++
		split = split || seen[a.Index] > 1
	}
	for j, name := range sc.Names {
		call, err := libseccomp.GetSyscallFromName(name)
		if errors.Is(err, libseccomp.ErrSyscallDoesNotExist) {
			log.Debug("seccomp: unknown syscall, skipping", "syscall", name)
			continue
		}
		if err != nil {
			return fmt.Errorf(".names[%d]: resolve %q: %w", j, name, err)
		}
		if err := addRule(f, call, act, conds, split); err != nil {
			return fmt.Errorf(".names[%d]: add rule for %q: %w", j, name, err)
		}
	}
	return nil
}

// addRule ANDs the conditions of one entry into one rule, except when an
// argument is compared more than once: libseccomp cannot AND two
// comparisons of the same argument, and profiles written for runc rely on
// such entries meaning "any of these" (one rule per condition).
func addRule(f *libseccomp.ScmpFilter, call libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition, split bool) error {
	switch {
	case len(conds) == 0:
		return f.AddRule(call, act)
	case split:
		for _, c := range conds {
			if err := f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
				return err
			}
		}
		return nil
	default:
		return f.AddRuleConditional(call, act, conds)
	}
}

// exportBPF gets the raw program out of libseccomp. libseccomp 2.5 can only
// write it to a file descriptor (the in-memory export came with 2.6), so it
// goes through a memfd, which needs no filesystem and no reader goroutine.
func exportBPF(f *libseccomp.ScmpFilter) ([]byte, error) {
	fd, err := unix.MemfdCreate("barco-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "barco-seccomp")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("export bpf: %w", err)
	}
	raw, err := io.ReadAll(io.NewSectionReader(mf, 0, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("read exported bpf: %w", err)
	}
	return raw, nil
}

// decodeInsns splits raw bytes, in the host's byte order as the kernel
// expects them, into sock_filter instructions.
func decodeInsns(raw []byte) ([]unix.SockFilter, error) {
	if len(raw) == 0 || len(raw)%sockFilterSize != 0 {
		return nil, fmt.Errorf("bpf program of %d bytes is not a whole number of instructions", len(raw))
	}
	insns := make([]unix.SockFilter, len(raw)/sockFilterSize)
	for i := range insns {
		b := raw[i*sockFilterSize:]
		insns[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return insns, nil
}

func encodeInsns(insns []unix.SockFilter) []byte {
	raw := make([]byte, len(insns)*sockFilterSize)
	for i, in := range insns {
		b := raw[i*sockFilterSize:]
		binary.NativeEndian.PutUint16(b[0:], in.Code)
		b[2], b[3] = in.Jt, in.Jf
		binary.NativeEndian.PutUint32(b[4:], in.K)
	}
	return raw
}

func usesNotify(s *specs.LinuxSeccomp) bool {
	for _, sc := range s.Syscalls {
		if sc.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// Raw returns the program as the kernel's struct sock_filter array and the
// flags to load it with, for a loader outside Go. It refuses a notifying
// program: its listener must be passed on, which Load does.
func (p *Program) Raw() (filter []byte, flags uint, err error) {
	if p.notify {
		return nil, 0, errors.New("seccomp: a notifying program has a listener to hand over")
	}
	filter = make([]byte, 0, len(p.insns)*sockFilterSize)
	for _, in := range p.insns {
		filter = binary.NativeEndian.AppendUint16(filter, in.Code)
		filter = append(filter, in.Jt, in.Jf)
		filter = binary.NativeEndian.AppendUint32(filter, in.K)
	}
	return filter, p.flags &^ unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, nil
}
