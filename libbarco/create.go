package libbarco

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/cgroups"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/console"
	"github.com/barco-oci/barco/libbarco/exeseal"
	"github.com/barco-oci/barco/state"
)

// CreateOpts are the runtime options of `create` and `run`.
type CreateOpts struct {
	PidFile       string
	ConsoleSocket string // unix socket to send the pty master to
	// KeepConsole makes Create receive the pty master itself (foreground
	// `run` without --console-socket) and return it in Container.Console.
	KeepConsole  bool
	NoPivot      bool
	NoNewKeyring bool
	PreserveFDs  int
	Stdin        *os.File
	Stdout       *os.File
	Stderr       *os.File
}

// ErrTTYNeedsSocket is returned when a terminal is requested for a process
// nobody will be attached to.
var ErrTTYNeedsSocket = errors.New("cannot allocate tty if barco will detach without setting console socket")

// Create sets up the container id from cfg and leaves its init waiting for
// Start. On any failure nothing is left behind: no state dir, cgroup or
// process.
func (rt *Runtime) Create(id string, cfg *configs.Config, opts CreateOpts) (_ *Container, retErr error) {
	if cfg.Process.Terminal && opts.ConsoleSocket == "" && !opts.KeepConsole {
		return nil, ErrTTYNeedsSocket
	}
	begin := time.Now()
	h, err := rt.Store.Create(id)
	if err != nil {
		return nil, err
	}
	c := &Container{ID: id, rt: rt, h: h}
	var cg *cgroups.Manager
	defer func() {
		if retErr == nil {
			return
		}
		if c.initProc != nil {
			_ = c.initProc.Kill()
			_, _ = c.initProc.Wait()
		}
		if cg != nil {
			_ = cg.Kill()
			_ = cg.Destroy()
		}
		_ = h.Remove()
	}()

	cg, err = rt.prepareCgroup(id, cfg)
	if err != nil {
		return nil, err
	}
	owner := ""
	if u, err := user.Current(); err == nil {
		owner = u.Username
	}
	c.st = &state.State{
		OCIVersion:  cfg.OCIVersion,
		ID:          id,
		Bundle:      cfg.Bundle,
		Rootfs:      cfg.Rootfs,
		CgroupPath:  cg.Dir(),
		Created:     time.Now().UTC(),
		Owner:       owner,
		Annotations: cfg.Annotations,
	}
	// Saved before the init exists, so that a create killed half-way can
	// still be found and cleaned up by `delete --force`.
	if err := h.Save(c.st); err != nil {
		return nil, err
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := h.WriteFile(configName, data, 0o600); err != nil {
		return nil, err
	}
	rt.Log.Debug("create: state prepared", "id", id, "elapsed", time.Since(begin))

	if err := c.spawnInit(cfg, cg, opts); err != nil {
		return nil, err
	}
	rt.Log.Debug("create: init ready", "id", id, "pid", c.initProc.Pid, "elapsed", time.Since(begin))

	start, _, err := state.ProcStat(c.initProc.Pid)
	if err != nil {
		return nil, fmt.Errorf("read init start time: %w", err)
	}
	c.st.Pid = c.initProc.Pid
	c.st.PidStartTime = start
	if err := h.Save(c.st); err != nil {
		return nil, err
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, c.st.Pid); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (rt *Runtime) prepareCgroup(id string, cfg *configs.Config) (*cgroups.Manager, error) {
	mnt, err := cgroups.FindMount()
	if err != nil {
		return nil, err
	}
	rel, err := cgroups.Resolve(cfg.CgroupsPath, id)
	if err != nil {
		return nil, err
	}
	cg := cgroups.NewManager(mnt, rel)
	if err := cg.CheckControllers(cfg.Resources); err != nil {
		return nil, err
	}
	if err := cg.Create(); err != nil {
		return nil, err
	}
	return cg, nil
}

// spawnInit starts the init in its new namespaces and cgroup and waits until
// it is ready (or failed).
func (c *Container) spawnInit(cfg *configs.Config, cg *cgroups.Manager, opts CreateOpts) error {
	fifoPath := c.h.Path(execFifoName)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return fmt.Errorf("create exec fifo: %w", err)
	}
	// Not governed by the umask: the container user must be able to write it.
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return err
	}
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()

	empty, err := c.rt.emptyDir()
	if err != nil {
		return err
	}
	exe, err := exeseal.Open(empty)
	if err != nil {
		return err
	}
	defer exe.Close()

	parentSock, childSock, err := socketPair("sync")
	if err != nil {
		return err
	}
	defer parentSock.Close()
	defer childSock.Close()

	var consoleParent, consoleChild *os.File
	if cfg.Process.Terminal {
		if opts.ConsoleSocket != "" {
			consoleChild, err = dialConsoleSocket(opts.ConsoleSocket)
		} else {
			consoleParent, consoleChild, err = socketPair("console")
		}
		if err != nil {
			return err
		}
		defer consoleChild.Close()
		if consoleParent != nil {
			defer consoleParent.Close()
		}
	}

	cgfd, err := cg.OpenFD()
	if err != nil {
		return err
	}
	defer unix.Close(cgfd)

	// Fd layout of the init: 0-2 stdio, then the preserved fds, then ours.
	extra := make([]*os.File, 0, opts.PreserveFDs+4)
	for i := 0; i < opts.PreserveFDs; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-fd"))
	}
	fdOf := func(f *os.File) int {
		extra = append(extra, f)
		return 3 + len(extra) - 1
	}
	syncFD := fdOf(childSock)
	boot := bootstrap{
		ID:           c.ID,
		Config:       cfg,
		NoPivot:      opts.NoPivot,
		NoNewKeyring: opts.NoNewKeyring,
		PreserveFDs:  opts.PreserveFDs,
		ConsoleFD:    -1,
	}
	boot.FifoFD = fdOf(fifo)
	if consoleChild != nil {
		boot.ConsoleFD = fdOf(consoleChild)
	}
	// The binary is executed through its fd at a fixed slot: an fd number
	// of our own could be overwritten by the ExtraFiles shuffle.
	exeFD := fdOf(exe)

	clone, unshare := cloneFlags(cfg)
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(exeFD),
		Args:       []string{"barco", "init"},
		Env:        []string{envInitSync + "=" + strconv.Itoa(syncFD)},
		Stdin:      orStd(opts.Stdin, os.Stdin),
		Stdout:     orStd(opts.Stdout, os.Stdout),
		Stderr:     orStd(opts.Stderr, os.Stderr),
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:   clone,
			Unshareflags: unshare,
			UseCgroupFD:  true,
			CgroupFD:     cgfd,
			// Until it reports ready, the init dies with its creator.
			Pdeathsig: unix.SIGKILL,
		},
	}
	if clone&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = idMaps(cfg.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(cfg.GIDMappings)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Become the namespace's root before the init is exec'd: the host
		// uid is not mapped inside, and an unmapped uid gets no
		// capabilities in the new namespace.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start init: %w", err)
	}
	c.initProc = cmd.Process
	childSock.Close()
	if consoleChild != nil {
		consoleChild.Close()
	}

	pipe := newSyncPipe(parentSock)
	if err := pipe.send(boot); err != nil {
		return err
	}
	if consoleParent != nil {
		master, err := console.RecvFd(consoleParent)
		if err != nil {
			// The init failed before sending the console: its own report
			// is the better error.
			if rerr := pipe.waitReady(); rerr != nil {
				return rerr
			}
			return fmt.Errorf("receive console: %w", err)
		}
		c.Console = master
	}
	if err := pipe.waitReady(); err != nil {
		return err
	}
	return nil
}

func orStd(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
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

// writePidFile writes pid atomically (temp file + rename), as containerd
// may read the file while it is being written.
func writePidFile(path string, pid int) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}
