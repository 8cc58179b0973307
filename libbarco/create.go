package libbarco

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
	"github.com/barco-oci/barco/libbarco/caps"
	"github.com/barco-oci/barco/libbarco/cgroups"
	"github.com/barco-oci/barco/libbarco/cgroups/systemd"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/hooks"
	"github.com/barco-oci/barco/libbarco/seccomp"
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
	if opts.PreserveFDs < 0 {
		return nil, fmt.Errorf("--preserve-fds %d: must not be negative", opts.PreserveFDs)
	}
	if rt.Rootless {
		if err := checkRootless(cfg); err != nil {
			return nil, err
		}
	}
	begin := time.Now()
	h, err := rt.Store.Create(id)
	if err != nil {
		return nil, err
	}
	c := &Container{ID: id, rt: rt, h: h}
	var cg *cgroups.Manager
	cgCreated := false // never tear down a cgroup that was not ours
	var unit *systemd.Manager
	defer func() {
		if retErr == nil {
			return
		}
		if c.init != nil {
			c.init.kill()
		}
		if cg != nil && cgCreated {
			_ = cg.Kill()
			_ = cg.Destroy()
		}
		if unit != nil {
			_ = unit.Destroy()
		}
		_ = h.Remove()
	}()

	if missing := caps.Ungrantable(cfg.Process.Capabilities); len(missing) > 0 {
		rt.Log.Warn("capabilities outside barco's own bounding set cannot be granted", "id", id, "capabilities", missing)
	}
	filter, err := rt.compileSeccomp(cfg.Seccomp)
	if err != nil {
		return nil, err
	}
	if rt.SystemdCgroup {
		// The unit is made once the init exists (a scope needs a pid).
		if unit, err = systemd.New(cfg.CgroupsPath, id, rt.Rootless); err != nil {
			return nil, err
		}
		unit.Log = rt.Log
	} else if cg, err = rt.cgroupManager(id, cfg); err != nil {
		return nil, err
	}
	c.st = newRecord(id, cfg, cgroupDir(cg))
	if unit != nil {
		c.st.CgroupDriver = cgroupDriverSystemd
	}
	// Saved before the cgroup and the init exist, so that a create killed
	// half-way can still be found and cleaned up by `delete --force`.
	if err := h.Save(c.st); err != nil {
		return nil, err
	}
	if cg != nil {
		if cg, err = rt.prepareCgroup(cg, cfg); err != nil {
			return nil, err
		}
		cgCreated = true
		if cg == nil { // rootless without a delegated cgroup
			c.st.CgroupPath = ""
			if err := h.Save(c.st); err != nil {
				return nil, err
			}
		}
	}
	rt.Log.Debug("create: state prepared", "id", id, "elapsed", time.Since(begin))

	if err := c.spawnInit(cfg, cg, unit, filter, opts); err != nil {
		return nil, err
	}
	rt.Log.Debug("create: init ready", "id", id, "pid", c.init.pid, "elapsed", time.Since(begin))

	start, _, err := state.ProcStat(c.init.pid)
	if err != nil {
		return nil, fmt.Errorf("read init start time: %w", err)
	}
	c.st.Pid = c.init.pid
	c.st.PidStartTime = start
	if !cfg.Process.Terminal {
		c.st.Stdio = recordStdio(ownStdioFor([3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr}))
	}
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

// cgroupManager resolves where the container's cgroup goes.
func (rt *Runtime) cgroupManager(id string, cfg *configs.Config) (*cgroups.Manager, error) {
	mnt, err := cgroups.FindMount()
	if err != nil {
		return nil, err
	}
	rel, err := cgroups.Resolve(cfg.CgroupsPath, id)
	if err != nil {
		return nil, err
	}
	cg := cgroups.NewManager(mnt, rel)
	cg.Log = rt.Log
	if err := cg.CheckControllers(cfg.Resources); err != nil {
		return nil, err
	}
	return cg, nil
}

// prepareCgroup creates the cgroup and sets its resources. It returns nil
// when a rootless container has to do without one.
func (rt *Runtime) prepareCgroup(cg *cgroups.Manager, cfg *configs.Config) (*cgroups.Manager, error) {
	if err := cg.Create(cfg.Resources); err != nil {
		// Without a delegated cgroup an unprivileged user runs the
		// container in its own cgroup, as runc's --rootless=auto does
		// (--rootless=true for anyone), unless the config asks for limits
		// that need one.
		optional := rt.Rootless
		if rt.CgroupOptional != nil {
			optional = *rt.CgroupOptional
		}
		if optional && errors.Is(err, os.ErrPermission) && !wantsLimits(cfg.Resources) {
			rt.Log.Warn("no writable cgroup for a rootless container: running without one", "cgroup", cg.Dir(), "error", err)
			return nil, nil
		}
		return nil, err
	}
	if err := cg.Set(withDeviceAllows(cfg.Resources, cfg.Devices)); err != nil {
		_ = cg.Destroy()
		return nil, err
	}
	return cg, nil
}

// spawnInit starts the init in its namespaces and cgroup and waits until
// it is ready (or failed).
func (c *Container) spawnInit(cfg *configs.Config, cg *cgroups.Manager, unit *systemd.Manager, filter *seccomp.Program, opts CreateOpts) error {
	fifoPath := c.h.Path(execFifoName)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return fmt.Errorf("create exec fifo: %w", err)
	}
	// Not governed by the umask: the container user must be able to write it.
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return err
	}
	fifo, err := sysfile.OpenFile(fifoPath, unix.O_PATH)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()
	cgfd := -1
	if cg != nil {
		if cgfd, err = cg.OpenFD(); err != nil {
			return err
		}
		defer unix.Close(cgfd)
	}

	req := &spawnRequest{
		boot: bootstrap{
			ID:           c.ID,
			Config:       cfg,
			NoPivot:      opts.NoPivot,
			NoNewKeyring: opts.NoNewKeyring,
			PreserveFDs:  opts.PreserveFDs,
			// The create-time hooks run once the runtime environment
			// exists: the state runtime-spec calls "created".
			State:   c.specState(specs.StateCreated),
			Seccomp: filter,
		},
		cgroupFD:      cgfd,
		fifo:          fifo,
		consoleSocket: opts.ConsoleSocket,
		keepConsole:   opts.KeepConsole,
		stdio:         [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr},
		// Written while the init execs: nothing before needs it, and a
		// container whose create fails before or after is removed whole.
		meanwhile: func() error { return c.saveConfig(cfg) },
	}
	if len(cfg.Hooks.Prestart)+len(cfg.Hooks.CreateRuntime) > 0 || unit != nil || len(cfg.NetDevices) > 0 {
		req.runtimeHooks = func(pid int) error {
			if unit != nil {
				// systemd moves the init into the new scope; the init
				// makes its cgroup namespace after this (see below).
				if err := unit.Apply(pid, withDeviceAllows(cfg.Resources, cfg.Devices)); err != nil {
					return err
				}
				c.st.CgroupPath = unit.Dir()
				if err := c.h.Save(c.st); err != nil {
					return err
				}
			}
			// The devices are there for the hooks, as the namespace
			// is: a hook may configure them.
			if err := moveNetDevices(pid, cfg.NetDevices); err != nil {
				return err
			}
			st := c.specState(specs.StateCreated)
			st.Pid = pid
			if err := hooks.RunAll("prestart", cfg.Hooks.Prestart, st); err != nil {
				return err
			}
			return hooks.RunAll("createRuntime", cfg.Hooks.CreateRuntime, st)
		}
	}
	userns, err := idmapUserns(cfg)
	if err != nil {
		return err
	}
	defer closeUserns(userns)
	req.idmapUserns = userns
	if err := c.rt.planNamespaces(req, cfg); err != nil {
		return err
	}
	if unit != nil && cfg.NewNamespace(configs.NEWCGROUP) {
		// The init starts in barco's own cgroup and reaches the unit's
		// only when the runtime hooks run: its cgroup namespace, rooted
		// where it is when made, must wait until then.
		req.unshare &^= unix.CLONE_NEWCGROUP
		req.nsUnshare &^= unix.CLONE_NEWCGROUP
		req.boot.UnshareCgroupNS = true
	}
	defer closeNamespaces(req.join)
	sp, err := c.rt.spawn(req)
	if err != nil {
		return err
	}
	c.init = sp
	c.Console = sp.console
	return nil
}

// planNamespaces decides how the init gets its namespaces. Without any to
// join, clone creates them all (the fast path). Otherwise the nsenter
// constructor joins the given ones first and then unshares the new ones, so
// that new namespaces are owned by a joined user namespace.
//
// A new user namespace that clone cannot make with the right mappings (an
// unprivileged user's /etc/subuid ranges, written by newuidmap) or that
// must own namespaces joined by path is made first by a holder process and
// then joined like the others.
func (rt *Runtime) planNamespaces(req *spawnRequest, cfg *configs.Config) error {
	clone, unshare := cloneFlags(cfg)
	var joinPID bool
	for _, t := range joinOrder {
		ns, ok := cfg.Namespace(t)
		if !ok || ns.Path == "" {
			continue
		}
		f, err := openNamespace(ns.Path, t)
		if err != nil {
			closeNamespaces(req.join)
			req.join = nil
			return fmt.Errorf("linux.namespaces: %s namespace: %w", t, err)
		}
		req.join = append(req.join, nsFile{Type: t, File: f})
		joinPID = joinPID || t == configs.NEWPID
	}
	if clone&unix.CLONE_NEWUSER != 0 && (len(req.join) > 0 || (rt.Rootless && !ownIDsOnly(cfg))) {
		f, err := newUserns(cfg.UIDMappings, cfg.GIDMappings, rt.Rootless)
		if err != nil {
			closeNamespaces(req.join)
			req.join = nil
			return fmt.Errorf("linux.uidMappings: create user namespace: %w", err)
		}
		req.join = append([]nsFile{{Type: configs.NEWUSER, File: f}}, req.join...)
		clone &^= unix.CLONE_NEWUSER
	}
	if len(req.join) == 0 {
		req.clone, req.unshare = clone, unshare
		req.uidMaps, req.gidMaps = cfg.UIDMappings, cfg.GIDMappings
		return nil
	}
	req.nsUnshare = clone | unshare
	req.fork = joinPID || clone&unix.CLONE_NEWPID != 0
	return nil
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

// compileSeccomp compiles the filter once here, through a cache under the
// root, so the init only loads it and a repeated start skips compilation.
func (rt *Runtime) compileSeccomp(s *specs.LinuxSeccomp) (*seccomp.Program, error) {
	if s == nil {
		return nil, nil
	}
	p, err := seccomp.CompileCached(filepath.Join(rt.Store.Root, ".seccomp-cache"), s, rt.Log)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// withDeviceAllows adds a cgroup allow rule for each device of
// linux.devices, as runc does: a device the container is given is one it
// may use.
func withDeviceAllows(r *specs.LinuxResources, devs []configs.Device) *specs.LinuxResources {
	if len(devs) == 0 {
		return r
	}
	out := specs.LinuxResources{}
	if r != nil {
		out = *r
	}
	out.Devices = append([]specs.LinuxDeviceCgroup(nil), out.Devices...)
	for _, d := range devs {
		typ := string(d.Type)
		if typ == "u" {
			typ = "c"
		}
		if typ == "p" {
			continue // fifos are not subject to the device controller
		}
		major, minor := d.Major, d.Minor
		out.Devices = append(out.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: "rwm"})
	}
	return &out
}

func cgroupDir(cg *cgroups.Manager) string {
	if cg == nil {
		return ""
	}
	return cg.Dir()
}

// wantsLimits reports whether r asks for anything that needs a cgroup.
func wantsLimits(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	ctrls, err := cgroups.RequiredControllers(r)
	return err != nil || len(ctrls) > 0 || len(r.Devices) > 0
}

// checkRootless rejects what an unprivileged user cannot set up: without
// root on the host the container needs a user namespace of its own, mapped
// to the user's own ids, or to ranges newuidmap/newgidmap grant from
// /etc/subuid and /etc/subgid.
func checkRootless(cfg *configs.Config) error {
	if !cfg.NewNamespace(configs.NEWUSER) {
		return errors.New("linux.namespaces: a rootless container needs a new user namespace (barco spec --rootless writes one)")
	}
	if ownIDsOnly(cfg) {
		return nil
	}
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("linux.uidMappings: mapping more than the user's own id needs %s (package uidmap): %w", tool, err)
		}
	}
	return nil
}

// ownIDsOnly reports whether the mappings map just the caller's own uid and
// gid, which an unprivileged user may write itself.
func ownIDsOnly(cfg *configs.Config) bool {
	self := func(maps []configs.IDMap, id int) bool {
		return len(maps) == 1 && maps[0].Size == 1 && int(maps[0].HostID) == id
	}
	return self(cfg.UIDMappings, os.Geteuid()) && self(cfg.GIDMappings, os.Getegid())
}

// cgroupDriverSystemd marks containers whose cgroup is a systemd unit.
const cgroupDriverSystemd = "systemd"
