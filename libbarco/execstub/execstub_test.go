package execstub

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/caps"
	"github.com/barco-oci/barco/libbarco/console"
)

func TestEncodeLayout(t *testing.T) {
	oom := -500
	umask := uint32(0o27)
	p := &Plan{
		ConsoleFD: -1, FifoFD: 7, FirstClosedFD: 5, OOMScoreAdj: &oom, Umask: &umask,
		UID: 1000, GID: 100, Groups: []uint32{1, 2},
		Rlimits: []Rlimit{{Type: 7, Soft: 10, Hard: 20}},
		Caps:    &caps.Masks{LastCap: 40, Bounding: 1 << 5},
		Seccomp: make([]byte, 16), SeccompFlags: 2, NoNewPrivs: true,
		Cwd: "/w", Args: []string{"a", "bc"}, Env: []string{"X=1"},
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if got := le.Uint32(b); int(got) != len(b)-4 {
		t.Fatalf("length prefix %d, payload %d", got, len(b)-4)
	}
	words := func(off int, n int) []uint32 {
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(b[off+4*i:])
		}
		return out
	}
	head := words(4, 14)
	want := []uint32{planMagic, flagNoNewPrivs | flagUmask | flagOOM | flagCaps | flagWaitFifo, 5, 0xffffffff, 7, 0, 0,
		uint32(0xfffffe0c), 0o27, 1000, 100, 2, 1, 2}
	for i := range want {
		if head[i] != want[i] {
			t.Fatalf("word %d = %#x, want %#x (header %v)", i, head[i], want[i], head)
		}
	}
	tail := string(b[len(b)-len("\x01\x00\x00\x00\x03\x00\x00\x00X=1"):])
	if tail != "\x01\x00\x00\x00\x03\x00\x00\x00X=1" {
		t.Fatalf("env not last: %q", tail)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for name, p := range map[string]*Plan{
		"no args":     {Cwd: "/"},
		"odd seccomp": {Args: []string{"x"}, Seccomp: make([]byte, 9)},
	} {
		if _, err := p.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// runStub re-executes this test binary as the stub (its constructor is
// linked in) with plan, and returns the stub's first message and the
// program's output.
func runStub(t *testing.T, p *Plan) (msg map[string]string, out string) {
	t.Helper()
	return runStubMode(t, p, "", nil, nil)
}

// runStubMode is runStub with mode appended to the fd in the environment;
// beforePlan and afterPlan (if any) talk to the stub around the plan.
func runStubMode(t *testing.T, p *Plan, mode string, beforePlan, afterPlan func(sock *os.File)) (msg map[string]string, out string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent := os.NewFile(uintptr(fds[0]), "parent")
	child := os.NewFile(uintptr(fds[1]), "child")
	defer parent.Close()
	p.FirstClosedFD = 3 + 1
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{Env + "=3" + mode}
	cmd.ExtraFiles = []*os.File{child}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	if beforePlan != nil {
		beforePlan(parent)
	}
	if _, err := parent.Write(b); err != nil {
		t.Fatal(err)
	}
	if afterPlan != nil {
		afterPlan(parent)
	}
	line, _ := bufio.NewReader(parent).ReadString('\n')
	_ = cmd.Wait()
	if err := json.Unmarshal([]byte(line), &msg); err != nil {
		t.Fatalf("message %q: %v (output %q)", line, err, stdout.String())
	}
	return msg, stdout.String()
}

func TestStubRunsProgram(t *testing.T) {
	dir := t.TempDir()
	umask := uint32(0o27)
	oom := 123
	msg, out := runStub(t, &Plan{
		ConsoleFD: -1, FifoFD: -1, NewSession: true,
		Cwd: dir, Umask: &umask, OOMScoreAdj: &oom,
		Rlimits: []Rlimit{{Type: unix.RLIMIT_NOFILE, Soft: 123, Hard: 456}},
		Args:    []string{"sh", "-c", `echo "$FOO"; pwd; umask; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; echo "$HOME"; ls /proc/self/fd | wc -l`},
		Env:     []string{"FOO=bar", "PATH=/usr/bin:/bin"},
	})
	if msg["type"] != "ready" {
		t.Fatalf("message %v", msg)
	}
	// ls sees stdio and its own directory fd: the sync socket was closed.
	want := strings.Join([]string{"bar", dir, "0027", "123", "456", "123", "/root", "4"}, "\n") + "\n"
	if out != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}

func TestStubUserCapsAndSeccomp(t *testing.T) {
	const capKill, capNetBind = 5, 10
	last, err := strconv.Atoi(strings.TrimSpace(readFile(t, "/proc/sys/kernel/cap_last_cap")))
	if err != nil {
		t.Fatal(err)
	}
	both := uint64(1<<capKill | 1<<capNetBind)
	// A filter that fails mkdirat with EPERM (x86-64 syscall numbers; the
	// test does not check the architecture).
	insns := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_MKDIRAT, Jt: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
	var filter []byte
	for _, in := range insns {
		filter = binary.NativeEndian.AppendUint16(filter, in.Code)
		filter = append(filter, in.Jt, in.Jf)
		filter = binary.NativeEndian.AppendUint32(filter, in.K)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	msg, out := runStub(t, &Plan{
		ConsoleFD: -1, FifoFD: -1, Cwd: "/",
		UID: 1000, GID: 1000, Groups: []uint32{1000, 20},
		Caps:       &caps.Masks{LastCap: last, Bounding: both, Effective: both, Permitted: both, Ambient: 1 << capKill, Inheritable: 1 << capKill},
		NoNewPrivs: true, Seccomp: filter,
		Args: []string{"/bin/sh", "-c", "id -u; id -g; id -G; grep -E '^(CapBnd|CapEff|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; mkdir " + filepath.Join(dir, "x") + " 2>/dev/null || echo denied"},
		Env:  []string{"HOME=/h"},
	})
	if msg["type"] != "ready" {
		t.Fatalf("message %v", msg)
	}
	// sh is exec'd from a non-root uid: only the ambient capability stays
	// effective in it.
	want := "1000\n1000\n1000 20\n" +
		"CapEff:\t0000000000000020\nCapBnd:\t0000000000000420\nCapAmb:\t0000000000000020\n" +
		"NoNewPrivs:\t1\nSeccomp:\t2\ndenied\n"
	if out != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}

// In "p" mode the stub first hands over a procfs context of its own pid
// namespace; here the test's, so a procfs made from it shows the stub.
func TestStubSendsProcContext(t *testing.T) {
	var ctxOK bool
	msg, out := runStubMode(t, &Plan{ConsoleFD: -1, FifoFD: -1, Cwd: "/", Args: []string{"/bin/true"}}, "p", func(sock *os.File) {
		buf := make([]byte, 16)
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil || string(buf[:n]) != "proc" {
			t.Errorf("recvmsg: %q, %v", buf[:n], err)
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			t.Errorf("control message: %v", err)
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			t.Errorf("rights: %v", err)
			return
		}
		defer unix.Close(fds[0])
		if err := unix.FsconfigCreate(fds[0]); err != nil {
			t.Errorf("create procfs from the context: %v", err)
			return
		}
		mnt, err := unix.Fsmount(fds[0], unix.FSMOUNT_CLOEXEC, 0)
		if err != nil {
			t.Errorf("fsmount: %v", err)
			return
		}
		defer unix.Close(mnt)
		_, err = unix.Openat(mnt, "self", unix.O_PATH|unix.O_CLOEXEC, 0)
		ctxOK = err == nil
	}, nil)
	if msg["type"] != "ready" || out != "" {
		t.Fatalf("message %v, output %q", msg, out)
	}
	if !ctxOK {
		t.Fatal("no usable procfs context")
	}
}

// With TTYFromParent the stub takes the pty slave sent after the plan as
// its stdio and controlling terminal.
func TestStubTakesTerminalFromParent(t *testing.T) {
	master, path, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	slave, err := console.OpenSlave(path, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	plan := &Plan{ConsoleFD: -1, FifoFD: -1, TTYFromParent: true, Cwd: "/", Env: []string{"PATH=/bin:/usr/bin"},
		Args: []string{"sh", "-c", `[ -t 0 ] && [ -t 1 ] && [ "$(tty)" = "$0" ] && echo on-the-tty`, path}}
	msg, _ := runStubMode(t, plan, "", nil, func(sock *os.File) {
		if err := console.SendFd(sock, slave); err != nil {
			t.Error(err)
		}
	})
	if msg["type"] != "ready" {
		t.Fatalf("message %v", msg)
	}
	slave.Close()
	buf := make([]byte, 256)
	n, _ := master.Read(buf)
	if got := strings.TrimSpace(string(buf[:n])); got != "on-the-tty" {
		t.Fatalf("read %q from the pty, want on-the-tty", got)
	}
}

func TestStubReportsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan Plan
		want string
	}{
		{"missing program", Plan{Cwd: "/", Args: []string{"no-such-program"}, Env: []string{"PATH=/bin"}}, `exec: "no-such-program": executable file not found in $PATH`},
		{"missing path", Plan{Cwd: "/", Args: []string{"/no/such"}}, `exec: "/no/such": stat /no/such: no such file or directory`},
		{"bad cwd", Plan{Cwd: "/no/such/dir", Args: []string{"/bin/true"}}, "process.cwd /no/such/dir: no such file or directory"},
		{"terminal without socket", Plan{Terminal: true, Cwd: "/", Args: []string{"/bin/true"}}, "process.terminal is set but there is no console socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.plan
			p.ConsoleFD, p.FifoFD = -1, -1
			msg, _ := runStub(t, &p)
			if msg["type"] != "error" || msg["error"] != tc.want {
				t.Fatalf("message %v, want error %q", msg, tc.want)
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
