package libbarco

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/hooks"
	"github.com/barco-oci/barco/libbarco/rootfs"
)

// A container whose namespaces are all new and whose process the execstub
// can finish is set up "from outside": the execstub is the container's
// process from the start, and a thread of barco itself joins its
// namespaces and mounts the rootfs, so that no second Go runtime starts.
// The stub opens the procfs context (a procfs shows the pid namespace of
// whoever opens it), and the masked and read-only paths are done before
// pivot_root (this thread's /proc/self is not in the container's /proc).

// canSetupFromOutside reports whether req qualifies: a new mount namespace,
// no user or time namespace (a thread cannot join a user namespace, and
// the time one needs its offsets written by the process), nothing joined
// by path, no cgroup namespace to make late (systemd), pivot_root, at most
// one proc mount with flags a mount attribute can express, a privileged
// caller, and fsopen (new mount API) allowed.
func canSetupFromOutside(req *spawnRequest, rootless bool) bool {
	b := &req.boot
	cfg := b.Config
	if b.Exec || rootless || b.NoPivot || b.UnshareCgroupNS ||
		len(req.join) > 0 || req.nsUnshare != 0 || req.fork || len(req.idmapUserns) > 0 ||
		!cfg.NewNamespace(configs.NEWNS) {
		return false
	}
	for _, ns := range cfg.Namespaces {
		if ns.Path != "" || ns.Type == configs.NEWUSER || ns.Type == configs.NEWTIME {
			return false
		}
	}
	procs := 0
	for _, m := range cfg.Mounts {
		if m.Type == "proc" {
			procs++
			if m.Flags&^rootfs.ProcContextFlags != 0 {
				return false
			}
		}
	}
	return procs <= 1 && procContextWorks()
}

// procContextWorks reports whether this kernel (and any seccomp filter
// barco runs under) allows fsopen("proc"), which the stub needs.
func procContextWorks() bool {
	fd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// setupFromOutside sets up the namespaces of the process pid (the execstub,
// waiting for its plan) as the init would: rootfs, createContainer hooks
// (with st), hostname, sysctls, masked and read-only paths, and the
// terminal. procCtx is the stub's procfs context, or -1. With a terminal,
// the pty's master goes to consoleSock and its slave is returned, for the
// stub.
func setupFromOutside(pid int, cfg *configs.Config, st specs.State, procCtx int, consoleSock *os.File) (tty *os.File, err error) {
	// The mount namespace comes last (joining it changes the thread's
	// root). The pid namespace only matters to the createContainer hooks
	// the thread starts, which join it as the container's processes.
	ns, err := openNamespaces(pid, cfg)
	if err != nil {
		return nil, err
	}
	defer closeNamespaces(ns)
	type result struct {
		tty *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread takes on the container's namespaces
		// and root, and the runtime ends it with this goroutine.
		runtime.LockOSThread()
		tty, err := setupOnThread(cfg, st, ns, procCtx, consoleSock)
		done <- result{tty, err}
	}()
	r := <-done
	return r.tty, r.err
}

func setupOnThread(cfg *configs.Config, st specs.State, ns []nsFile, procCtx int, consoleSock *os.File) (*os.File, error) {
	// A thread shares its root and cwd with the process until it unshares
	// them; setns into a mount namespace needs them to be its own.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return nil, fmt.Errorf("unshare fs: %w", err)
	}
	for _, n := range ns {
		if err := unix.Setns(int(n.File.Fd()), 0); err != nil {
			return nil, fmt.Errorf("join %s: %w", n.File.Name(), err)
		}
	}
	opts := rootfs.Options{
		ProcContext: procCtx,
		BeforePivot: func() error {
			// Started from this thread, the hooks are in the container's
			// namespaces, with the host's paths still reachable.
			if err := hooks.RunAll("createContainer", cfg.Hooks.CreateContainer, st); err != nil {
				return err
			}
			if err := setHostname(cfg); err != nil {
				return err
			}
			// The /proc here is the host's; a sysctl file shows the
			// namespaces of whoever opens it, which are the container's.
			if err := writeSysctls(cfg.Sysctl); err != nil {
				return err
			}
			if err := rootfs.FinalizeBeforePivot(cfg); err != nil {
				return fmt.Errorf("finalize rootfs: %w", err)
			}
			return nil
		},
	}
	if err := rootfs.Prepare(cfg, opts); err != nil {
		return nil, fmt.Errorf("prepare rootfs: %w", err)
	}
	if !cfg.Process.Terminal {
		return nil, nil
	}
	// After pivot_root the paths are the container's: its devpts, its
	// /dev/console.
	return makeTerminal(consoleSock, &cfg.Process, true)
}
