package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func loadProfile(t testing.TB, name string) *specs.LinuxSeccomp {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func smallProfile() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		ListenerPath:  "/run/agent.sock",
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdirat", "no_such_syscall"}, Action: specs.ActErrno},
			{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EINVAL)),
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			// Kill anything that asks for a new user namespace.
			{Names: []string{"clone"}, Action: specs.ActKillProcess,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWUSER, ValueTwo: unix.CLONE_NEWUSER, Op: specs.OpMaskedEqual}}},
			{Names: []string{"getppid"}, Action: specs.ActNotify},
			// Same argument twice: either value matches.
			{Names: []string{"ptrace"}, Action: specs.ActLog,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}, {Index: 0, Value: 16, Op: specs.OpEqualTo}}},
			// Different arguments: both must match.
			{Names: []string{"kcmp"}, Action: specs.ActTrap,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 2, Op: specs.OpEqualTo}}},
			// Repeats the default action: skipped, not an error.
			{Names: []string{"getpid"}, Action: specs.ActAllow},
		},
	}
}

func TestCompile(t *testing.T) {
	arch := nativeAuditArch(t)
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := Compile(smallProfile(), log)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Notify() {
		t.Error("Notify() = false for a profile with SCMP_ACT_NOTIFY")
	}
	if p.flags != unix.SECCOMP_FILTER_FLAG_LOG {
		t.Errorf("flags = %#x, want SECCOMP_FILTER_FLAG_LOG", p.flags)
	}
	if !strings.Contains(logBuf.String(), "syscall=no_such_syscall") {
		t.Errorf("unknown syscall not logged at debug level; log:\n%s", logBuf.String())
	}
	errno := func(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
	tests := []struct {
		name string
		data []byte
		want uint32
	}{
		{"mkdirat denied with EPERM", seccompData(unix.SYS_MKDIRAT, arch), errno(unix.EPERM)},
		{"getpid allowed", seccompData(unix.SYS_GETPID, arch), unix.SECCOMP_RET_ALLOW},
		{"personality(8) EINVAL", seccompData(unix.SYS_PERSONALITY, arch, 8), errno(unix.EINVAL)},
		{"personality(0) allowed", seccompData(unix.SYS_PERSONALITY, arch, 0), unix.SECCOMP_RET_ALLOW},
		{"clone(NEWUSER) killed", seccompData(unix.SYS_CLONE, arch, unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), unix.SECCOMP_RET_KILL_PROCESS},
		{"clone(SIGCHLD) allowed", seccompData(unix.SYS_CLONE, arch, uint64(unix.SIGCHLD)), unix.SECCOMP_RET_ALLOW},
		{"getppid notified", seccompData(unix.SYS_GETPPID, arch), unix.SECCOMP_RET_USER_NOTIF},
		{"ptrace(0) logged", seccompData(unix.SYS_PTRACE, arch, 0), unix.SECCOMP_RET_LOG},
		{"ptrace(16) logged", seccompData(unix.SYS_PTRACE, arch, 16), unix.SECCOMP_RET_LOG},
		{"ptrace(5) allowed", seccompData(unix.SYS_PTRACE, arch, 5), unix.SECCOMP_RET_ALLOW},
		{"kcmp(1,2) trapped", seccompData(unix.SYS_KCMP, arch, 1, 2), unix.SECCOMP_RET_TRAP},
		{"kcmp(1,3) allowed", seccompData(unix.SYS_KCMP, arch, 1, 3), unix.SECCOMP_RET_ALLOW},
		{"kcmp(7,2) allowed", seccompData(unix.SYS_KCMP, arch, 7, 2), unix.SECCOMP_RET_ALLOW},
		{"high word of an argument counts", seccompData(unix.SYS_PERSONALITY, arch, 1<<32|8), unix.SECCOMP_RET_ALLOW},
		// Architectures not in the profile are killed, whatever the syscall.
		{"foreign architecture killed", seccompData(unix.SYS_GETPID, unix.AUDIT_ARCH_S390X), unix.SECCOMP_RET_KILL_THREAD},
	}
	for _, tc := range tests {
		if got := runBPF(t, p.insns, tc.data); got != tc.want {
			t.Errorf("%s: program returned %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

func TestCompileErrnoDefault(t *testing.T) {
	arch := nativeAuditArch(t)
	p, err := Compile(&specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uintp(uint(unix.ENOSYS)),
		Syscalls:        []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Notify() {
		t.Error("Notify() = true without SCMP_ACT_NOTIFY")
	}
	if got, want := runBPF(t, p.insns, seccompData(unix.SYS_GETPID, arch)), uint32(unix.SECCOMP_RET_ALLOW); got != want {
		t.Errorf("getpid: %#x, want %#x", got, want)
	}
	if got, want := runBPF(t, p.insns, seccompData(unix.SYS_MKDIRAT, arch)), uint32(unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)); got != want {
		t.Errorf("mkdirat: %#x, want %#x", got, want)
	}
}

func TestCompileLargeProfile(t *testing.T) {
	arch := nativeAuditArch(t)
	s := loadProfile(t, "large-profile.json")
	p, err := Compile(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() > maxInsns {
		t.Fatalf("%d instructions, more than the kernel takes", p.Len())
	}
	for _, nr := range []int{unix.SYS_READ, unix.SYS_EXECVE, unix.SYS_OPENAT} {
		if got := runBPF(t, p.insns, seccompData(nr, arch)); got != unix.SECCOMP_RET_ALLOW {
			t.Errorf("syscall %d: %#x, want allow", nr, got)
		}
	}
	if got, want := runBPF(t, p.insns, seccompData(unix.SYS_MOUNT, arch)), uint32(unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM)); got != want {
		t.Errorf("mount: %#x, want %#x", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	if _, err := Compile(nil, nil); err == nil {
		t.Error("Compile(nil): no error")
	}
	bad := smallProfile()
	bad.Syscalls[3].Action = "SCMP_ACT_FOO"
	if _, err := Compile(bad, nil); err == nil || err.Error() != `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"` {
		t.Errorf("Compile of an invalid profile: %v", err)
	}
	if major, minor, _ := libseccomp.GetLibraryVersion(); major == 2 && minor < 6 {
		// libseccomp 2.5 knows no LoongArch; the error must name the entry.
		_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchLOONGARCH64}}, nil)
		if err == nil || !strings.HasPrefix(err.Error(), "linux.seccomp.architectures[1]: add SCMP_ARCH_LOONGARCH64: ") {
			t.Errorf("Compile with an architecture libseccomp %s lacks: %v", Version(), err)
		}
	}
}

func TestVersion(t *testing.T) {
	v := Version()
	var major, minor, micro int
	if n, err := fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &micro); n != 3 || err != nil || major < 2 {
		t.Errorf("Version() = %q, want major.minor.micro with major >= 2", v)
	}
}
