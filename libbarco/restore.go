package libbarco

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/cgroups"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/criu"
	"github.com/barco-oci/barco/libbarco/rootfs"
	"github.com/barco-oci/barco/state"
)

// RestoreOpts are the options of `restore`.
type RestoreOpts struct {
	CriuOpts
	PidFile         string
	ConsoleSocket   string
	LSMProfile      string
	LSMMountContext string
	// The restored init's stdio replaces the stdio it had at checkpoint
	// time; nil means ours.
	Stdin, Stdout, Stderr *os.File
}

// Restore brings the container id back from the checkpoint in
// opts.ImagePath: a state directory and cgroup as Create makes them, then
// criu restores the process tree into the rootfs and mounts of cfg. The
// container is running when Restore returns, and the caller (its parent)
// may Wait for it. On failure nothing is left behind.
func (rt *Runtime) Restore(id string, cfg *configs.Config, opts RestoreOpts) (_ *Container, retErr error) {
	if err := opts.validate(cfg); err != nil {
		return nil, err
	}
	emptyNet, _ := emptyNet(opts.EmptyNS)
	bin, err := criu.LookPath(opts.Criu)
	if err != nil {
		return nil, err
	}
	imageDir, workDir, err := checkpointDirs(opts.ImagePath, opts.WorkPath, false)
	if err != nil {
		return nil, err
	}
	inherit, err := readStdioKeys(imageDir)
	if err != nil {
		return nil, err
	}
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
		if c.init != nil {
			c.init.kill()
		}
		if cg != nil {
			_ = cg.Kill()
			_ = cg.Destroy()
		}
		_ = h.Remove()
	}()
	planned, err := rt.cgroupManager(id, cfg)
	if err != nil {
		return nil, err
	}
	if cg, err = rt.prepareCgroup(planned, cfg); err != nil {
		return nil, err
	}
	// cgroupDir: a rootless restore may have to do without a cgroup.
	c.st = newRecord(id, cfg, cgroupDir(cg))
	if err := h.Save(c.st); err != nil {
		return nil, err
	}
	if err := c.saveConfig(cfg); err != nil {
		return nil, err
	}

	selfCgroup, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	pidFile := h.Path("criu-restore.pid")
	ro := &criu.RestoreOpts{
		Common:          opts.common(imageDir, workDir),
		Root:            cfg.Rootfs,
		PidFile:         pidFile,
		InheritFDs:      inherit,
		CgroupRoots:     criu.CgroupRoots(string(selfCgroup), cg.Path),
		EmptyNet:        emptyNet,
		AutoDedup:       opts.AutoDedup,
		LSMProfile:      opts.LSMProfile,
		LSMMountContext: opts.LSMMountContext,
	}
	for _, m := range criu.ExternalMounts(cfg) {
		ro.External = append(ro.External, criu.ExtMountRestore(m.Cookie, m.Source))
	}
	if len(cfg.MaskedPaths) > 0 {
		m := criu.MaskedFileMount("")
		ro.External = append(ro.External, criu.ExtMountRestore(m.Cookie, m.Source))
	}
	// Namespaces the container joins by path are given to criu as open
	// fds, after stdio.
	var extra []*os.File
	defer func() {
		for _, f := range extra {
			f.Close()
		}
	}()
	for _, t := range []configs.NamespaceType{configs.NEWNET, configs.NEWPID} {
		ns, ok := cfg.Namespace(t)
		if !ok || ns.Path == "" {
			continue
		}
		f, err := os.OpenFile(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("%s namespace %s: %w", t, ns.Path, err)
		}
		extra = append(extra, f)
		ro.InheritFDs = append(ro.InheritFDs, criu.InheritFD{FD: 2 + len(extra), Key: externalNSKey[t]})
	}
	cgfd, err := cg.OpenFD()
	if err != nil {
		return nil, err
	}
	defer unix.Close(cgfd)

	rt.Log.Debug("restore", "id", id, "criu", bin, "args", ro.Args())
	cmd := exec.Command(bin, ro.Args()...)
	stdio := ownStdioFor([3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr})
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	cmd.ExtraFiles = extra
	// criu starts in the container's cgroup, so the restored tree is there
	// even with --manage-cgroups-mode ignore.
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgfd}
	if err := startInPrivateMountNS(cmd, func() error { return prepareRestoreRoot(cfg) }); err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		return nil, criuError("restore", workDir, criu.RestoreLog, nil, err)
	}

	pid, err := readPid(pidFile)
	if err != nil {
		return nil, fmt.Errorf("criu restore: %w", err)
	}
	os.Remove(pidFile)
	c.init = &spawned{child: pid, pid: pid}
	start, _, err := state.ProcStat(pid)
	if err != nil {
		return nil, fmt.Errorf("read init start time: %w", err)
	}
	c.st.Pid = pid
	c.st.PidStartTime = start
	// The restored init holds the stdio restore gave it in place of the
	// recorded one: the next checkpoint names that.
	c.st.Stdio = recordStdio(stdio)
	if err := h.Save(c.st); err != nil {
		return nil, err
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (o *RestoreOpts) validate(cfg *configs.Config) error {
	if o.LazyPages {
		return fmt.Errorf("--lazy-pages: %w", ErrCheckpointUnsupported)
	}
	if cfg.Process.Terminal {
		return fmt.Errorf("restore of a container with process.terminal: %w", ErrCheckpointUnsupported)
	}
	if !cfg.NewNamespace(configs.NEWNS) {
		return fmt.Errorf("restore of a container without a mount namespace of its own: %w", ErrCheckpointUnsupported)
	}
	if _, err := emptyNet(o.EmptyNS); err != nil {
		return err
	}
	return criu.ValidateCgroupsMode(o.ManageCgroupsMode)
}

// readStdioKeys reads what checkpoint recorded about the init's stdio.
// An image without the file (made by another runtime) inherits nothing.
func readStdioKeys(imageDir string) ([]criu.InheritFD, error) {
	data, err := os.ReadFile(filepath.Join(imageDir, stdioFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []criu.InheritFD
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(imageDir, stdioFile), err)
	}
	for _, k := range keys {
		if k.FD < 0 || k.FD > 2 || k.Key == "" {
			return nil, fmt.Errorf("%s: bad entry %+v", filepath.Join(imageDir, stdioFile), k)
		}
	}
	return keys, nil
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: bad pid %q", path, data)
	}
	return pid, nil
}

// startInPrivateMountNS starts cmd in a mount namespace of its own, after
// prepare ran in it. The namespace is made on a locked thread that is
// never handed back to the Go scheduler (the runtime ends it when the
// goroutine returns), so nothing mounted there is seen by the host or by
// the rest of barco, and it all goes away with the command.
func startInPrivateMountNS(cmd *exec.Cmd, prepare func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("make mounts private: %w", err)
			return
		}
		if err := prepare(); err != nil {
			errc <- err
			return
		}
		if err := cmd.Start(); err != nil {
			errc <- fmt.Errorf("start criu: %w", err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// prepareRestoreRoot makes the rootfs what criu restore expects as --root:
// a mount point, with a mount point for each configured mount. Those are
// normally there since the container ran from this rootfs, but a rootfs
// moved to another host may lack the ones create made. Bind mounts are
// mounted for a moment so that mount points nested inside them can be
// made; criu itself mounts everything in the restored namespace.
func prepareRestoreRoot(cfg *configs.Config) error {
	if err := unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s: %w", cfg.Rootfs, err)
	}
	// Mount points below a filesystem that is not a bind (a tmpfs, proc,
	// sysfs, ...) are not in the rootfs: criu restores a tmpfs with its
	// content, and the kernel provides the others.
	var fsMounts []string
	for i := range cfg.Mounts {
		if !cfg.Mounts[i].IsBind() {
			fsMounts = append(fsMounts, cfg.Mounts[i].Destination)
		}
	}
	var binds []string
	defer func() {
		for i := len(binds) - 1; i >= 0; i-- {
			_ = unix.Unmount(binds[i], unix.MNT_DETACH)
		}
	}()
	root, err := os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if underAny(m.Destination, fsMounts) {
			continue
		}
		dir := true
		if m.IsBind() {
			fi, err := os.Stat(m.Source)
			if err != nil {
				return fmt.Errorf("mount %s: source %s: %w", m.Destination, m.Source, err)
			}
			dir = fi.IsDir()
		}
		target, err := rootfs.OpenTarget(root, m.Destination, dir)
		if err != nil {
			return fmt.Errorf("mount point %s: %w", m.Destination, err)
		}
		if m.IsBind() {
			path := "/proc/self/fd/" + strconv.Itoa(int(target.Fd()))
			if err := unix.Mount(m.Source, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				target.Close()
				return fmt.Errorf("bind %s: %w", m.Destination, err)
			}
			binds = append(binds, filepath.Join(cfg.Rootfs, containerPath(cfg.Rootfs, m.Destination)))
		}
		target.Close()
	}
	return nil
}

// underAny reports whether p is strictly below one of the dirs.
func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if d != p && strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}
