package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func uintp(v uint) *uint { return &v }

// validProfile returns a profile that passes Validate; each case below
// breaks one thing in a fresh copy.
func validProfile() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: uintp(13)},
		},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *specs.LinuxSeccomp)
		want   string // "" means valid
	}{
		{"valid", func(s *specs.LinuxSeccomp) {}, ""},
		{"notify with listener", func(s *specs.LinuxSeccomp) {
			s.ListenerPath = "/run/agent.sock"
			s.ListenerMetadata = "x"
			s.Syscalls[0].Action = specs.ActNotify
			s.Syscalls[0].Names = []string{"mount"}
		}, ""},
		{"trace with errnoRet", func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActTrace; s.DefaultErrnoRet = uintp(65535) }, ""},
		{"missing default action", func(s *specs.LinuxSeccomp) { s.DefaultAction = "" },
			`linux.seccomp.defaultAction: required`},
		{"unknown default action", func(s *specs.LinuxSeccomp) { s.DefaultAction = "SCMP_ACT_NOPE" },
			`linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"`},
		{"notify default action", func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActNotify; s.ListenerPath = "/a" },
			`linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action: it would stop the runtime's own syscalls`},
		{"defaultErrnoRet with allow", func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActAllow; s.DefaultErrnoRet = uintp(1) },
			`linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW`},
		{"defaultErrnoRet too large", func(s *specs.LinuxSeccomp) { s.DefaultErrnoRet = uintp(4096) },
			`linux.seccomp.defaultErrnoRet: 4096 out of range 0-4095`},
		{"unknown architecture", func(s *specs.LinuxSeccomp) { s.Architectures[1] = "SCMP_ARCH_VAX" },
			`linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX"`},
		{"unknown flag", func(s *specs.LinuxSeccomp) { s.Flags = append(s.Flags, "SECCOMP_FILTER_FLAG_NEW_LISTENER") },
			`linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"`},
		{"metadata without listener", func(s *specs.LinuxSeccomp) { s.ListenerMetadata = "m" },
			`linux.seccomp.listenerMetadata: set without linux.seccomp.listenerPath`},
		{"no names", func(s *specs.LinuxSeccomp) { s.Syscalls[2].Names = nil },
			`linux.seccomp.syscalls[2].names: must contain at least one entry`},
		{"empty name", func(s *specs.LinuxSeccomp) { s.Syscalls[0].Names[1] = "" },
			`linux.seccomp.syscalls[0].names[1]: empty syscall name`},
		{"unknown action", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Action = "SCMP_ACT_FOO" },
			`linux.seccomp.syscalls[1].action: unknown action "SCMP_ACT_FOO"`},
		{"notify without listener", func(s *specs.LinuxSeccomp) { s.Syscalls[2].Action = specs.ActNotify; s.Syscalls[2].ErrnoRet = nil },
			`linux.seccomp.syscalls[2].action: SCMP_ACT_NOTIFY requires linux.seccomp.listenerPath`},
		{"notify on write", func(s *specs.LinuxSeccomp) { s.ListenerPath = "/a"; s.Syscalls[0].Action = specs.ActNotify },
			`linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for "write": the runtime needs it to hand the listener over`},
		{"errnoRet with kill", func(s *specs.LinuxSeccomp) { s.Syscalls[2].Action = specs.ActKillProcess },
			`linux.seccomp.syscalls[2].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_KILL_PROCESS`},
		{"seven args", func(s *specs.LinuxSeccomp) {
			s.Syscalls[1].Args = make([]specs.LinuxSeccompArg, 7)
			for i := range s.Syscalls[1].Args {
				s.Syscalls[1].Args[i] = specs.LinuxSeccompArg{Index: uint(i % 6), Op: specs.OpEqualTo}
			}
		}, `linux.seccomp.syscalls[1].args: at most 6 arguments, got 7`},
		{"arg index out of range", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Index = 6 },
			`linux.seccomp.syscalls[1].args[0].index: 6 out of range 0-5`},
		{"unknown operator", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Op = "SCMP_CMP_ALMOST" },
			`linux.seccomp.syscalls[1].args[0].op: unknown operator "SCMP_CMP_ALMOST"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validProfile()
			tc.mutate(s)
			err := Validate(s)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate: nil, want %q", tc.want)
			case tc.want != "" && err.Error() != tc.want:
				t.Fatalf("Validate:\n got %q\nwant %q", err, tc.want)
			}
		})
	}
	if err := Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v, want nil", err)
	}
}

func TestNameLists(t *testing.T) {
	// Every listed name must be accepted by Validate in its place, so that
	// `barco features` never advertises something create would refuse.
	for _, a := range Actions() {
		s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/a",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.LinuxSeccompAction(a)}}}
		if err := Validate(s); err != nil {
			t.Errorf("action %s: %v", a, err)
		}
	}
	for _, a := range Archs() {
		if err := Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)}}); err != nil {
			t.Errorf("arch %s: %v", a, err)
		}
	}
	for _, op := range Operators() {
		s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"personality"},
			Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 5, Op: specs.LinuxSeccompOperator(op)}}}}}
		if err := Validate(s); err != nil {
			t.Errorf("operator %s: %v", op, err)
		}
	}
	for _, f := range KnownFlags() {
		if err := Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(f)}}); err != nil {
			t.Errorf("flag %s: %v", f, err)
		}
	}
	if len(Actions()) != 9 || len(Operators()) != 7 || len(KnownFlags()) != 4 {
		t.Errorf("lists: %d actions, %d operators, %d flags; runtime-spec 1.3 has 9, 7, 4", len(Actions()), len(Operators()), len(KnownFlags()))
	}
}
