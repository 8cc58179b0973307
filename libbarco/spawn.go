package libbarco

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/console"
	"github.com/barco-oci/barco/libbarco/execstub"
	"github.com/barco-oci/barco/libbarco/exeseal"
	"github.com/barco-oci/barco/libbarco/nsenter"
	"github.com/barco-oci/barco/libbarco/seccomp"
)

// nsFile is an open namespace to join.
type nsFile struct {
	Type configs.NamespaceType
	File *os.File
}

// spawnRequest describes one barco init (a container's init or an exec'd
// process) to start.
type spawnRequest struct {
	boot          bootstrap
	cgroupFD      int
	fifo          *os.File // the exec fifo; nil for exec
	consoleSocket string   // send the pty master there...
	keepConsole   bool     // ...or receive it here
	// runtimeHooks does the runtime's part of the set-up once the init's
	// namespaces exist, when the init asks for it: systemd's scope, the
	// network devices, the prestart and createRuntime hooks. pid is the
	// container process's host pid.
	runtimeHooks func(pid int) error
	// meanwhile, if set, runs once the child is started, while it execs
	// and gets ready on the other CPU (its error stops the spawn).
	meanwhile func() error
	stdio     [3]*os.File

	// Namespaces created by clone (the Go path, when nothing is joined).
	clone, unshare uintptr
	uidMaps        []configs.IDMap
	gidMaps        []configs.IDMap

	// idmapUserns are the user namespaces of idmapped mounts, by index.
	idmapUserns map[int]*os.File

	// Namespaces joined (and created) by the nsenter constructor.
	join      []nsFile
	nsUnshare uintptr
	fork      bool

	// affinity is an exec'd process's execCPUAffinity (see affinity.go).
	affinity *configs.CPUAffinity
}

// spawned is a started init.
type spawned struct {
	// child is the pid of our direct child: the init itself, or the
	// intermediate process of a fork (already reaped then).
	child int
	// pid is the host pid of the process in the container.
	pid     int
	console *os.File
}

// wait waits for the container process to exit and returns its status as
// a shell reports it. A forked process was re-parented to us (the caller is
// a child subreaper).
func (s *spawned) wait() (int, error) {
	ws, err := reap(s.pid)
	if err != nil {
		return -1, err
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// reap waits for the exit of pid, a child of ours (or re-parented to us).
// Raw wait4 rather than os.Process: the os package probes pidfd support
// with an extra fork the first time it handles a process.
func reap(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, fmt.Errorf("wait for %d: %w", pid, err)
		}
		return ws, nil
	}
}

// spawn starts the init and waits until it reports ready (or failed). On
// failure everything it started is killed and reaped.
func (rt *Runtime) spawn(req *spawnRequest) (_ *spawned, retErr error) {
	// The child's parent-death signal fires when the thread that forked it
	// exits, not the process: keep this goroutine on its thread until the
	// child is ready (and has cleared the signal), so that no locked
	// goroutine that ends (the set-up thread of outside_linux.go) can take
	// this thread with it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	exe, err := exeseal.Open()
	if err != nil {
		return nil, err
	}
	defer exe.Close()

	parentSock, childSock, err := socketPair("sync")
	if err != nil {
		return nil, err
	}
	defer parentSock.Close()
	defer childSock.Close()

	var consoleParent, consoleChild *os.File
	if req.boot.terminal() {
		if req.consoleSocket != "" {
			consoleChild, err = dialConsoleSocket(req.consoleSocket)
		} else if req.keepConsole {
			consoleParent, consoleChild, err = socketPair("console")
		} else {
			err = ErrTTYNeedsSocket
		}
		if err != nil {
			return nil, err
		}
		defer consoleChild.Close()
		if consoleParent != nil {
			defer consoleParent.Close()
		}
	}

	var seccompParent, seccompChild *os.File
	if req.boot.Seccomp != nil && req.boot.Seccomp.Notify() {
		if seccompParent, seccompChild, err = socketPair("seccomp"); err != nil {
			return nil, err
		}
		defer seccompParent.Close()
		defer seccompChild.Close()
	}

	// Fd layout of the init: 0-2 stdio, then the preserved fds, then ours.
	n := req.boot.PreserveFDs
	extra := make([]*os.File, 0, n+6+len(req.join))
	for i := 0; i < n; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-fd"))
	}
	fdOf := func(f *os.File) int {
		extra = append(extra, f)
		return 3 + len(extra) - 1
	}
	syncFD := fdOf(childSock)
	boot := req.boot
	boot.FifoFD, boot.ConsoleFD, boot.SeccompFD = -1, -1, -1
	if seccompChild != nil {
		boot.SeccompFD = fdOf(seccompChild)
	}
	if req.fifo != nil {
		boot.FifoFD = fdOf(req.fifo)
	}
	if consoleChild != nil {
		boot.ConsoleFD = fdOf(consoleChild)
	}
	if len(req.idmapUserns) > 0 {
		boot.IDMapFDs = map[int]int{}
		slot := map[*os.File]int{}
		for i, f := range req.idmapUserns {
			if _, ok := slot[f]; !ok {
				slot[f] = fdOf(f)
			}
			boot.IDMapFDs[i] = slot[f]
		}
	}
	// The init is short-lived and single-threaded in spirit: no garbage
	// collector, one P. These never reach the container process, whose
	// environment comes from the config.
	env := []string{envInitSync + "=" + strconv.Itoa(syncFD), "GOGC=off", "GOMAXPROCS=1"}
	if len(req.join) > 0 || req.nsUnshare != 0 || req.fork {
		spec := nsenter.Spec{SyncFD: syncFD, Unshare: req.nsUnshare, Fork: req.fork}
		for i, ns := range req.join {
			spec.Join = append(spec.Join, fdOf(ns.File))
			if i == 0 && ns.Type == configs.NEWUSER {
				spec.JoinUser = true
			}
		}
		env = append(env, nsenter.Env+"="+spec.Encode())
	}
	// The binary is executed through its fd at a fixed slot: an fd number
	// of our own could be overwritten by the ExtraFiles shuffle.
	exeFD := fdOf(exe)

	// The execstub finishes the process without a Go runtime when it can:
	// instead of the whole init for exec, after the set-up for create, or
	// from the start when this process sets the container up from outside
	// (see outside_linux.go).
	boot.ExecStubFD = -1
	stub, err := stubFor(&boot)
	if err != nil {
		return nil, err
	}
	outside := stub != nil && canSetupFromOutside(req, rt.Rootless)
	var plan []byte
	if stub != nil {
		switch {
		case boot.Exec:
			env = append(env, execstub.Env+"="+strconv.Itoa(syncFD))
		case outside:
			stubFromOutside(stub, &boot)
			// "p": first hand over a procfs context.
			env = append(env, execstub.Env+"="+strconv.Itoa(syncFD)+"p")
		default:
			// The Go init sets the container up, then execs the stub.
			boot.ExecStubFD = exeFD
		}
		if plan, err = stub.Encode(); err != nil {
			return nil, err
		}
	}

	sys := &syscall.SysProcAttr{
		Cloneflags:   req.clone,
		Unshareflags: req.unshare,
		UseCgroupFD:  req.cgroupFD >= 0,
		CgroupFD:     req.cgroupFD,
		// Until it reports ready, the init dies with its creator.
		Pdeathsig: unix.SIGKILL,
	}
	if req.clone&unix.CLONE_NEWUSER != 0 {
		sys.UidMappings = idMaps(req.uidMaps)
		sys.GidMappings = idMaps(req.gidMaps)
		// An unprivileged user may write a gid_map only after denying
		// setgroups in the namespace.
		sys.GidMappingsEnableSetgroups = !rt.Rootless
		// Become the namespace's root before the init is exec'd: the host
		// uid is not mapped inside, and an unmapped uid gets no
		// capabilities in the new namespace.
		sys.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: rt.Rootless}
	}
	files := make([]uintptr, 0, 3+len(extra))
	for _, f := range ownStdioFor(req.stdio) {
		files = append(files, f.Fd())
	}
	for _, f := range extra {
		files = append(files, f.Fd())
	}
	// syscall.StartProcess, not os/exec: no os.Process, whose first use
	// forks a throw-away child to probe pidfd support.
	var pid int
	err = withInitialAffinity(req.affinity, func() (err error) {
		pid, _, err = syscall.StartProcess("/proc/self/fd/"+strconv.Itoa(exeFD), []string{"barco", "init"}, &syscall.ProcAttr{
			Env:   env,
			Files: files,
			Sys:   sys,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	sp := &spawned{child: pid, pid: pid}
	defer func() {
		if retErr != nil {
			sp.kill()
		}
	}()
	childSock.Close()
	if consoleChild != nil && !outside {
		// From outside, the pty is made here (the deferred Close ends it).
		consoleChild.Close()
	}
	if seccompChild != nil {
		seccompChild.Close()
	}
	if req.meanwhile != nil {
		if err := req.meanwhile(); err != nil {
			return nil, err
		}
	}

	pipe := newSyncPipe(parentSock)
	if req.fork {
		pid, err := pipe.readPid()
		if err != nil {
			return nil, err
		}
		sp.pid = pid
		// The intermediate exits right after reporting; reaping it also
		// guarantees the container process has been re-parented.
		if _, err := reap(sp.child); err != nil {
			return nil, fmt.Errorf("nsenter: %w", err)
		}
		sp.child = 0
	}
	boot.State.Pid = sp.pid
	// Before the process gets its plan or bootstrap, so before it execs.
	if err := setFinalAffinity(sp.pid, req.affinity); err != nil {
		return nil, err
	}
	boot.RuntimeHooks = req.runtimeHooks != nil
	var runHooks func() error
	if req.runtimeHooks != nil {
		runHooks = func() error { return req.runtimeHooks(sp.pid) }
	}
	var tty *os.File
	if outside {
		ctx, err := console.RecvFd(parentSock)
		if err != nil {
			return nil, fmt.Errorf("receive the container's procfs context: %w", err)
		}
		// The namespaces exist and nothing is mounted yet: the point of
		// the prestart and createRuntime hooks.
		if req.runtimeHooks != nil {
			if err := req.runtimeHooks(sp.pid); err != nil {
				ctx.Close()
				return nil, err
			}
		}
		st := boot.State
		st.Pid = sp.pid
		tty, err = setupFromOutside(sp.pid, boot.Config, st, int(ctx.Fd()), consoleChild)
		ctx.Close()
		if err != nil {
			return nil, err
		}
		if tty != nil {
			defer tty.Close()
		}
	}
	if plan != nil && (boot.Exec || outside) {
		if _, err := parentSock.Write(plan); err != nil {
			return nil, fmt.Errorf("write exec stub plan: %w", err)
		}
		if tty != nil {
			if err := console.SendFd(parentSock, tty); err != nil {
				return nil, fmt.Errorf("send the terminal to the container: %w", err)
			}
		}
	} else if err := pipe.send(boot.forInit()); err != nil {
		return nil, err
	}
	if err := pipe.waitReady(runHooks, plan); err != nil {
		return nil, err
	}
	// The init sent the pty master before reporting ready; it waits in
	// the socket's buffer.
	if consoleParent != nil {
		master, err := console.RecvFd(consoleParent)
		if err != nil {
			return nil, fmt.Errorf("receive console: %w", err)
		}
		sp.console = master
	}
	if seccompParent != nil {
		if err := handOverListener(seccompParent, &boot, sp.pid); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

// kill kills and reaps a started init after a failure.
func (s *spawned) kill() {
	if s.console != nil {
		s.console.Close()
	}
	// Our direct child first (the init, or the nsenter intermediate, which
	// may not have reported its child yet); 0 once reaped.
	if s.child > 0 {
		_ = unix.Kill(s.child, unix.SIGKILL)
		_, _ = reap(s.child)
	}
	// Never a pid <= 0: kill(2) would hit a whole process group.
	if s.pid > 0 && s.pid != s.child {
		_ = unix.Kill(s.pid, unix.SIGKILL)
		// A forked child is ours only if we are a subreaper; reap it if so.
		_, _ = reap(s.pid)
	}
}

// ownStdioFor fills the nil entries of stdio with barco's own stdin,
// stdout and stderr.
func ownStdioFor(stdio [3]*os.File) [3]*os.File {
	own := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i, f := range stdio {
		if f == nil {
			stdio[i] = own[i]
		}
	}
	return stdio
}

func idMaps(m []configs.IDMap) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

func socketPair(name string) (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair %s: %w", name, err)
	}
	return os.NewFile(uintptr(fds[0]), name+"-parent"), os.NewFile(uintptr(fds[1]), name+"-child"), nil
}

// dialConsoleSocket connects to the --console-socket listener and returns
// the connection as a file for the init.
func dialConsoleSocket(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	return f, nil
}

// openNamespaces opens the namespaces of process pid that cfg lists, user
// first and mount last, skipping those that are already ours.
func openNamespaces(pid int, cfg *configs.Config) ([]nsFile, error) {
	var out []nsFile
	for _, t := range joinOrder {
		if _, ok := cfg.Namespace(t); !ok {
			continue
		}
		f, err := openNamespace(fmt.Sprintf("/proc/%d/ns/%s", pid, procNSName[t]), t)
		if err != nil {
			closeNamespaces(out)
			return nil, err
		}
		if same, err := sameAsOurs(f, t); err != nil || same {
			f.Close()
			if err != nil {
				closeNamespaces(out)
				return nil, err
			}
			continue
		}
		out = append(out, nsFile{Type: t, File: f})
	}
	return out, nil
}

// openNamespace opens the namespace file at path and checks that it is a
// namespace of type t. (sysfile.OpenFile: os.OpenFile would offer the
// file to Go's network poller, four system calls for nothing.)
func openNamespace(path string, t configs.NamespaceType) (*os.File, error) {
	f, err := sysfile.OpenFile(path, unix.O_RDONLY)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("namespace %s: %w", path, ErrNotRunning)
		}
		return nil, fmt.Errorf("open namespace: %w", err)
	}
	const nsGetNSType = 0xb703 // NS_GET_NSTYPE, _IO(0xb7, 0x3)
	kind, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a namespace: %w", path, err)
	}
	if uintptr(kind) != nsFlags[t] {
		f.Close()
		return nil, fmt.Errorf("%s is not a %s namespace", path, t)
	}
	return f, nil
}

func closeNamespaces(ns []nsFile) {
	for _, n := range ns {
		n.File.Close()
	}
}

// sameAsOurs reports whether f is the namespace of type t we are already in
// (joining it again is pointless, and for a user namespace not allowed).
func sameAsOurs(f *os.File, t configs.NamespaceType) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		return false, err
	}
	if err := unix.Stat("/proc/self/ns/"+procNSName[t], &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// joinOrder: the user namespace first (it grants the rights to join the
// others), the mount namespace last (joining it changes our root).
var joinOrder = []configs.NamespaceType{
	configs.NEWUSER, configs.NEWIPC, configs.NEWUTS, configs.NEWNET,
	configs.NEWPID, configs.NEWCGROUP, configs.NEWTIME, configs.NEWNS,
}

var procNSName = map[configs.NamespaceType]string{
	configs.NEWUSER: "user", configs.NEWIPC: "ipc", configs.NEWUTS: "uts",
	configs.NEWNET: "net", configs.NEWPID: "pid", configs.NEWCGROUP: "cgroup",
	configs.NEWTIME: "time", configs.NEWNS: "mnt",
}

// handOverListener receives the init's seccomp listener and sends it to the
// agent at linux.seccomp.listenerPath, with the container's state.
func handOverListener(sock *os.File, boot *bootstrap, pid int) error {
	fd, err := console.RecvFd(sock)
	if err != nil {
		return fmt.Errorf("receive seccomp listener: %w", err)
	}
	defer fd.Close()
	sc := boot.Config.Seccomp
	st := boot.State
	st.Pid = pid
	if err := seccomp.SendNotifyFD(sc.ListenerPath, sc.ListenerMetadata, int(fd.Fd()), st, pid); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: %w", sc.ListenerPath, err)
	}
	return nil
}
