package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Loading a filter cannot be undone, so the kernel tests run in a
// re-executed test binary: childEnv names the scenario, childDirEnv a
// scratch directory.
const (
	childEnv    = "BARCO_SECCOMP_TEST_CHILD"
	childDirEnv = "BARCO_SECCOMP_TEST_DIR"
)

func TestMain(m *testing.M) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		os.Exit(m.Run())
	}
	children := map[string]func(dir string) error{
		"deny-mkdir":   childDenyMkdir,
		"notify":       func(dir string) error { return childNotify(dir, nil) },
		"notify-tsync": func(dir string) error { return childNotify(dir, []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}) },
		"flags":        childFlags,
	}
	run, ok := children[mode]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child scenario %q\n", mode)
		os.Exit(2)
	}
	if err := run(os.Getenv(childDirEnv)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild runs a scenario and returns its standard output.
func runChild(t *testing.T, mode string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, stderr.String())
	}
	return stdout.String()
}

// lockAndNoNewPrivs prepares the calling thread as the container init
// would: pinned, and allowed to load a filter without CAP_SYS_ADMIN.
func lockAndNoNewPrivs() error {
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	return nil
}

func TestLoadDenyMkdir(t *testing.T) { runChild(t, "deny-mkdir") }

func childDenyMkdir(dir string) error {
	if err := lockAndNoNewPrivs(); err != nil {
		return err
	}
	p, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
	}, nil)
	if err != nil {
		return err
	}
	pid := unix.Getpid()
	fd, err := p.Load()
	if err != nil {
		return err
	}
	if fd != -1 {
		return fmt.Errorf("Load returned fd %d without a notify action", fd)
	}
	if err := os.Mkdir(filepath.Join(dir, "denied"), 0o755); !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("mkdir under the filter: %v, want EPERM", err)
	}
	if got := unix.Getpid(); got != pid {
		return fmt.Errorf("getpid under the filter: %d, want %d", got, pid)
	}
	if err := os.WriteFile(filepath.Join(dir, "allowed"), nil, 0o600); err != nil {
		return fmt.Errorf("creating a file under the filter: %w", err)
	}
	return nil
}

func TestLoadNotify(t *testing.T) { runChild(t, "notify") }

// TSYNC with a listener needs TSYNC_ESRCH, which Load must add.
func TestLoadNotifyTsync(t *testing.T) { runChild(t, "notify-tsync") }

// childNotify plays both sides of a notify filter on getppid: the init
// loads it and hands the listener to an agent with SendNotifyFD; the agent,
// on another thread, answers the notification with a made-up parent pid.
func childNotify(dir string, fl []specs.LinuxSeccompFlag) error {
	const fakePPID = 4242
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return err
	}
	agentErr := make(chan error, 1)
	go func() { agentErr <- agent(l, fakePPID) }()

	if err := lockAndNoNewPrivs(); err != nil {
		return err
	}
	p, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         fl,
		ListenerPath:  sock,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}},
	}, nil)
	if err != nil {
		return err
	}
	fd, err := p.Load()
	if err != nil {
		return err
	}
	if fd < 0 {
		return fmt.Errorf("Load returned fd %d for a notify filter", fd)
	}
	if link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil || link != "anon_inode:seccomp notify" {
		return fmt.Errorf("listener fd %d is %q (%v), want a seccomp notify fd", fd, link, err)
	}
	if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		return fmt.Errorf("listener fd is not close-on-exec (flags %#x, %v)", flags, err)
	}
	st := specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: os.Getpid(), Bundle: dir}
	if err := SendNotifyFD(sock, "meta", fd, st, os.Getpid()); err != nil {
		return err
	}
	// unix.Syscall, not unix.Getppid (a raw syscall): the call blocks until
	// the agent answers, and the agent's goroutine may need the P that a
	// raw syscall would keep.
	ppid, _, _ := unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	if got := int(ppid); got != fakePPID {
		return fmt.Errorf("getppid under a notify filter returned %d, want the agent's %d", got, fakePPID)
	}
	return <-agentErr
}

func agent(l *net.UnixListener, ppid uint64) error {
	conn, err := l.AcceptUnix()
	if err != nil {
		return err
	}
	defer conn.Close()
	fds, state, err := recvState(conn)
	if err != nil {
		return err
	}
	if len(fds) != 1 || !slices.Equal(state.Fds, []string{specs.SeccompFdName}) {
		return fmt.Errorf("agent got fds %v named %v", fds, state.Fds)
	}
	fd := libseccomp.ScmpFd(fds[0])
	req, err := libseccomp.NotifReceive(fd)
	if err != nil {
		return fmt.Errorf("agent: receive: %w", err)
	}
	if err := libseccomp.NotifIDValid(fd, req.ID); err != nil {
		return fmt.Errorf("agent: notification %d not valid: %w", req.ID, err)
	}
	if name, _ := req.Data.Syscall.GetName(); name != "getppid" {
		return fmt.Errorf("agent: notified of %q, want getppid", name)
	}
	return libseccomp.NotifRespond(fd, &libseccomp.ScmpNotifResp{ID: req.ID, Val: ppid})
}

// recvState reads one container process state message and its fds.
func recvState(conn *net.UnixConn) ([]int, *specs.ContainerProcessState, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	rest, err := io.ReadAll(conn)
	if err != nil {
		return nil, nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	for i := range msgs {
		f, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return nil, nil, err
		}
		fds = append(fds, f...)
	}
	var st specs.ContainerProcessState
	if err := json.Unmarshal(append(buf[:n], rest...), &st); err != nil {
		return nil, nil, fmt.Errorf("decode state: %w", err)
	}
	return fds, &st, nil
}

func TestSupportedFlags(t *testing.T) {
	got := SupportedFlags()
	for _, f := range got {
		if !slices.Contains(KnownFlags(), f) {
			t.Errorf("SupportedFlags has unknown flag %s", f)
		}
	}
	// What the probe says must match what a real load does.
	loaded := strings.Fields(runChild(t, "flags"))
	if !slices.Equal(got, loaded) {
		t.Errorf("SupportedFlags() = %v, but loading succeeds with %v", got, loaded)
	}
}

// childFlags loads one filter per known flag and prints the flags that
// loaded. TSYNC goes first: it fails once this thread carries filters the
// other threads lack.
func childFlags(dir string) error {
	if err := lockAndNoNewPrivs(); err != nil {
		return err
	}
	for _, f := range KnownFlags() {
		s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(f)}}
		if f == string(specs.LinuxSeccompFlagWaitKillableRecv) {
			// Only meaningful, and only accepted, with a listener.
			s.ListenerPath = filepath.Join(dir, "unused.sock")
			s.Syscalls = []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}}
		}
		p, err := Compile(s, nil)
		if err != nil {
			return err
		}
		fd, err := p.Load()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			continue
		}
		if fd >= 0 {
			unix.Close(fd)
		}
		fmt.Println(f)
	}
	return nil
}

func TestLoadBadProgram(t *testing.T) {
	if _, err := (&Program{}).Load(); err == nil {
		t.Error("Load of an empty program: no error")
	}
}

func TestSendNotifyFDNoListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.sock")
	err := SendNotifyFD(path, "", 0, specs.State{}, 1)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("SendNotifyFD to a missing socket: %v", err)
	}
}

func TestSendNotifyFD(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	st := specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreated, Pid: 77, Bundle: "/b",
		Annotations: map[string]string{"k": "v"}}
	sent := make(chan error, 1)
	go func() { sent <- SendNotifyFD(sock, "MKNOD=/dev/null", int(r.Fd()), st, 77) }()

	conn, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fds, got, err := recvState(conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	want := &specs.ContainerProcessState{Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: 77, Metadata: "MKNOD=/dev/null", State: st}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("state:\n got %+v\nwant %+v", got, want)
	}
	if len(fds) != 1 {
		t.Fatalf("received %d fds, want 1", len(fds))
	}
	received := os.NewFile(uintptr(fds[0]), "received")
	defer received.Close()
	// The received fd is the pipe's read end: what goes in comes out.
	if _, err := w.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(received, buf); err != nil || string(buf) != "ping" {
		t.Errorf("read through the received fd: %q, %v", buf, err)
	}
}
