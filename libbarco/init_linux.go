package libbarco

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/console"
	"github.com/barco-oci/barco/libbarco/execstub"
	"github.com/barco-oci/barco/libbarco/hooks"
	"github.com/barco-oci/barco/libbarco/nsenter"
	"github.com/barco-oci/barco/libbarco/rootfs"
)

// IsInit reports whether this process was started as a container's init.
func IsInit() bool { return os.Getenv(envInitSync) != "" }

// Init is the entry point of the re-executed barco inside the new
// namespaces. It must run on the locked main OS thread (the caller locks it
// in an init function): credentials, capabilities and some namespaces are
// per thread, and the final execve must happen from the thread that holds
// them. It never returns on success.
func Init() {
	runtime.LockOSThread()
	fd, err := strconv.Atoi(os.Getenv(envInitSync))
	if err != nil {
		fmt.Fprintf(os.Stderr, "barco init: bad %s\n", envInitSync)
		os.Exit(1)
	}
	unix.CloseOnExec(fd)
	pipe := newSyncPipe(os.NewFile(uintptr(fd), "sync"))
	// initContainer returns only on failure: on success it execs.
	err = initContainer(pipe)
	_ = pipe.send(syncMsg{Type: msgError, Error: err.Error()})
	os.Exit(1)
}

func initContainer(pipe *syncPipe) error {
	var b bootstrap
	if err := pipe.recv(&b); err != nil {
		return err
	}
	os.Unsetenv(envInitSync)
	os.Unsetenv(nsenter.Env)
	if b.Exec {
		return initExec(pipe, &b)
	}
	cfg := b.Config
	unix.CloseOnExec(b.FifoFD)
	// Nobody in the container may open our fds through /proc/<pid>/fd or
	// ptrace us while we hold host resources; execve resets this.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("set non-dumpable: %w", err)
	}
	// The exec fifo is reopened for writing through procfs. Without a
	// mount namespace the container gets no /proc of ours after the
	// chroot, so keep a handle on this one until then.
	procFD := -1
	if _, ok := cfg.Namespace(configs.NEWNS); !ok {
		fd, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /proc: %w", err)
		}
		procFD = fd
	}
	if b.ConsoleFD >= 0 {
		unix.CloseOnExec(b.ConsoleFD)
	}
	if b.SeccompFD >= 0 {
		unix.CloseOnExec(b.SeccompFD)
	}
	for _, fd := range b.IDMapFDs {
		unix.CloseOnExec(fd)
	}

	// Namespaces given by path were joined by the nsenter constructor
	// before the Go runtime started (see nsenter.c).
	if !b.NoNewKeyring {
		// A session keyring of its own, so the container cannot read or
		// fill the keys of whoever started it.
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + b.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	if cfg.NewNamespace(configs.NEWTIME) {
		if err := setupTimeNamespace(cfg.TimeOffsets); err != nil {
			return err
		}
	}
	if b.RuntimeHooks {
		if err := pipe.askHooks(); err != nil {
			return err
		}
	}
	if b.UnshareCgroupNS {
		// Only this thread's namespaces change; it is the one that mounts
		// and execs.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	createContainerHooks := func() error {
		return hooks.RunAll("createContainer", cfg.Hooks.CreateContainer, b.State)
	}
	// The rootfs is set up in the container's mount namespace, new or
	// joined by path (runc does the same for a joined one).
	_, hasMountNS := cfg.Namespace(configs.NEWNS)
	if hasMountNS {
		_, inUserNS := cfg.Namespace(configs.NEWUSER)
		opts := rootfs.Options{NoPivot: b.NoPivot, InUserNS: inUserNS, BeforePivot: createContainerHooks, IDMapFDs: b.IDMapFDs}
		if err := rootfs.Prepare(cfg, opts); err != nil {
			return fmt.Errorf("prepare rootfs: %w", err)
		}
	} else {
		if err := createContainerHooks(); err != nil {
			return err
		}
		// Without a mount namespace of its own the container still gets
		// its root: a chroot into root.path.
		if err := unix.Chroot(cfg.Rootfs); err != nil {
			return fmt.Errorf("chroot %s: %w", cfg.Rootfs, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
	}
	if err := setHostname(cfg); err != nil {
		return err
	}
	if cfg.Process.Terminal {
		if err := setupTerminal(b.ConsoleFD, &cfg.Process, true); err != nil {
			return err
		}
	} else if err := newSession(); err != nil {
		return err
	}
	// Before Finalize: /proc/sys becomes read-only there.
	if err := writeSysctls(cfg.Sysctl); err != nil {
		return err
	}
	if hasMountNS {
		if err := rootfs.Finalize(cfg); err != nil {
			return fmt.Errorf("finalize rootfs: %w", err)
		}
	}
	if len(cfg.Process.Args) == 0 {
		return idleWithoutProcess(pipe)
	}
	// Before the seccomp filter, which may not allow close_range.
	if err := closeExtraFDs(3 + b.PreserveFDs); err != nil {
		return err
	}
	if err := setMemoryPolicy(cfg.MemoryPolicy); err != nil {
		return err
	}
	if b.ExecStubFD > 0 {
		return execStub(pipe, &b)
	}
	p, err := prepareProcess(&cfg.Process, b.Seccomp)
	if err != nil {
		return err
	}
	if err := sendNotifyFD(&b, p); err != nil {
		return err
	}
	// From here on a failure of create is no longer possible: the parent
	// records the container and exits, and the init waits for `start`.
	if err := reportReady(pipe); err != nil {
		return err
	}
	if err := waitForStart(procFD, b.FifoFD); err != nil {
		// Nobody listens on the sync pipe any more; stderr is all we have.
		fmt.Fprintf(os.Stderr, "barco init: %v\n", err)
		os.Exit(1)
	}
	// The startContainer hooks run in the container, after `start`, as
	// the container's user; their paths resolve in the container.
	st := b.State
	st.Status = specs.StateRunning
	if err := hooks.RunAll("startContainer", cfg.Hooks.StartContainer, st); err != nil {
		fmt.Fprintf(os.Stderr, "barco init: %v\n", err)
		os.Exit(1)
	}
	err = p.exec()
	fmt.Fprintf(os.Stderr, "barco init: %v\n", err)
	os.Exit(127)
	return nil
}

// setHostname sets the hostname and domain name of a container with a UTS
// namespace.
func setHostname(cfg *configs.Config) error {
	if _, ok := cfg.Namespace(configs.NEWUTS); !ok {
		return nil
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return fmt.Errorf("setdomainname: %w", err)
		}
	}
	return nil
}

// execStub hands the rest of the work to the execstub: it execs barco's
// binary from b.ExecStubFD, whose constructor reads its plan from the sync
// socket, prepares the process, reports ready and waits for start without
// ever starting a Go runtime (see package execstub). The sync socket and
// the exec fifo stay open across this execve; the stub marks them
// close-on-exec before its own.
func execStub(pipe *syncPipe, b *bootstrap) error {
	syncFD := int(pipe.f.Fd())
	for _, fd := range []int{syncFD, b.FifoFD} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("keep fd %d for the exec stub: %w", fd, err)
		}
	}
	if err := pipe.send(syncMsg{Type: msgExecStub}); err != nil {
		return err
	}
	argv, err := syscall.SlicePtrFromStrings([]string{"barco", "init"})
	if err != nil {
		return err
	}
	envv, err := syscall.SlicePtrFromStrings([]string{execstub.Env + "=" + strconv.Itoa(syncFD)})
	if err != nil {
		return err
	}
	empty, err := unix.BytePtrFromString("")
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall6(unix.SYS_EXECVEAT, uintptr(b.ExecStubFD), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), unix.AT_EMPTY_PATH, 0)
	return fmt.Errorf("exec the exec stub: %w", e)
}

// idleWithoutProcess keeps a container created from a config without a
// process: it exists (its namespaces can be used) but `start` refuses it,
// and `delete` ends it.
func idleWithoutProcess(pipe *syncPipe) error {
	if err := closeExtraFDs(3); err != nil {
		return err
	}
	if err := reportReady(pipe); err != nil {
		return err
	}
	for {
		unix.Pause()
	}
}

// initExec prepares a process joining a running container: the nsenter
// constructor already put us in its namespaces and the parent in its
// cgroup; only the process settings are left.
func initExec(pipe *syncPipe, b *bootstrap) error {
	if b.ConsoleFD >= 0 {
		unix.CloseOnExec(b.ConsoleFD)
	}
	if b.SeccompFD >= 0 {
		unix.CloseOnExec(b.SeccompFD)
	}
	if b.Config.Process.Terminal {
		if err := setupTerminal(b.ConsoleFD, &b.Config.Process, false); err != nil {
			return err
		}
	} else if err := newSession(); err != nil {
		return err
	}
	if err := closeExtraFDs(3 + b.PreserveFDs); err != nil {
		return err
	}
	if err := setMemoryPolicy(b.Config.MemoryPolicy); err != nil {
		return err
	}
	p, err := prepareProcess(&b.Config.Process, b.Seccomp)
	if err != nil {
		return err
	}
	if err := sendNotifyFD(b, p); err != nil {
		return err
	}
	if err := reportReady(pipe); err != nil {
		return err
	}
	err = p.exec()
	fmt.Fprintf(os.Stderr, "barco exec: %v\n", err)
	os.Exit(127)
	return nil
}

// newSession makes the process the leader of a session of its own (with a
// terminal, setupTerminal does it). Otherwise the container would stay in
// the session of whoever ran barco, outside its pid namespace, which criu
// cannot checkpoint, and job-control signals to that session would reach it.
func newSession() error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	return nil
}

// sendNotifyFD passes the seccomp listener to the parent, which hands it
// to the agent at linux.seccomp.listenerPath.
func sendNotifyFD(b *bootstrap, p *readyProcess) error {
	if p.notifyFD < 0 {
		return nil
	}
	sock := os.NewFile(uintptr(b.SeccompFD), "seccomp-socket")
	defer sock.Close()
	listener := os.NewFile(uintptr(p.notifyFD), "seccomp-listener")
	defer listener.Close()
	if err := console.SendFd(sock, listener); err != nil {
		return fmt.Errorf("send seccomp listener: %w", err)
	}
	return nil
}

// waitForStart blocks until `barco start` opens the exec fifo, then writes
// one byte so start knows the init got past this point. The write end is
// close-on-exec: start sees EOF once the container process runs.
func waitForStart(procFD, fifoFD int) error {
	var fd int
	var err error
	if procFD >= 0 {
		fd, err = unix.Openat(procFD, "self/fd/"+strconv.Itoa(fifoFD), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		unix.Close(procFD)
	} else {
		fd, err = unix.Open("/proc/self/fd/"+strconv.Itoa(fifoFD), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	unix.Close(fifoFD)
	if _, err := unix.Write(fd, []byte{0}); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	return nil
}

func writeSysctls(sysctl map[string]string) error {
	for k, v := range sysctl {
		path := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := writeProcFile(path, v); err != nil {
			return fmt.Errorf("linux.sysctl %q: %w", k, err)
		}
	}
	return nil
}

// closeExtraFDs marks every fd from first on close-on-exec, so only stdio
// and the preserved fds reach the container process, whatever the runtime
// or a library opened (CVE-2024-21626).
func closeExtraFDs(first int) error {
	if err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list fds: %w", err)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// reportReady tells the parent that the process is ready and lets go of
// it: the parent death signal is cleared first (the parent exits once it
// has recorded the container), then the sync pipe is closed.
func reportReady(pipe *syncPipe) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear parent death signal: %w", err)
	}
	if err := pipe.send(syncMsg{Type: msgReady}); err != nil {
		return err
	}
	pipe.f.Close()
	return nil
}
