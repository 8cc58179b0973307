// Package rootfs builds the container's filesystem view inside its new mount
// namespace: root propagation, the configured mounts, /dev, pivot_root (or
// chroot), masked and read-only paths. Every target inside the rootfs is
// resolved with the rootfs as "/" (openat2 RESOLVE_IN_ROOT, see inroot.go)
// and mounted through its fd, so symlinks in the image cannot redirect a
// mount to the host.
package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
	"github.com/barco-oci/barco/libbarco/configs"
)

// Options are the runtime choices that are not part of the config.
type Options struct {
	NoPivot  bool
	InUserNS bool // the container has its own user namespace
	// BeforePivot runs once everything is mounted, while the host's paths
	// are still reachable (the createContainer hooks).
	BeforePivot func() error
	// IDMapFDs are the user namespace fds of idmapped mounts, by index.
	IDMapFDs map[int]int
	// ProcContext, when > 0, is a procfs context (fsopen) made by a
	// process in the container's pid namespace; the proc mount is made
	// from it. A caller that is not in that pid namespace itself (it set
	// up the mounts from outside, through setns) must pass one: a procfs
	// shows the pid namespace of the process that opens it.
	ProcContext int
}

// Prepare mounts everything of cfg under cfg.Rootfs and makes it the root
// of the calling process. The caller is in a new mount namespace.
func Prepare(cfg *configs.Config, opts Options) error {
	// Nothing we mount may propagate back to the host. The configured
	// propagation is for the container's "/" and is applied after
	// pivot_root, which refuses a shared parent (and an unbindable "/"
	// could not even be bound): until then "/" is a slave, or private.
	setup := uint64(unix.MS_SLAVE | unix.MS_REC)
	if cfg.RootPropagation&unix.MS_PRIVATE != 0 {
		setup = cfg.RootPropagation
	}
	if err := unix.Mount("", "/", "", uintptr(setup), ""); err != nil {
		return fmt.Errorf("set root propagation: %w", err)
	}
	// The rootfs must be a mount point for pivot_root.
	if err := unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s: %w", cfg.Rootfs, err)
	}
	root, err := sysfile.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()

	devIsBind, hasDevpts := false, false
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		userns, idmapped := opts.IDMapFDs[i]
		if !idmapped {
			userns = -1
		}
		procCtx := -1
		if m.Type == "proc" && opts.ProcContext > 0 {
			procCtx = opts.ProcContext
		}
		if err := mountOne(root, m, opts.InUserNS, userns, procCtx); err != nil {
			return fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		switch {
		case m.Destination == "/dev" && m.IsBind():
			devIsBind = true
		case m.Destination == "/dev/pts" && m.Type == "devpts":
			hasDevpts = true
		}
	}
	// A /dev bound from the host already has its nodes.
	if !devIsBind {
		if err := createDevices(root, cfg.Devices, opts.InUserNS); err != nil {
			return err
		}
		if err := createDevSymlinks(root, hasDevpts); err != nil {
			return err
		}
	}
	if opts.BeforePivot != nil {
		if err := opts.BeforePivot(); err != nil {
			return err
		}
	}
	if opts.NoPivot {
		err = moveRoot(cfg.Rootfs)
	} else {
		err = pivotRoot(cfg.Rootfs)
	}
	if err != nil {
		return err
	}
	if cfg.RootPropagation != setup {
		if err := unix.Mount("", "/", "", uintptr(cfg.RootPropagation), ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation: %w", err)
		}
	}
	return nil
}

// pivotRoot makes rootfs the root and detaches the old root. pivot_root(".",
// ".") stacks the old root on top of the new one, so no directory for it is
// needed inside the image.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("chdir new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("chdir old root: %w", err)
	}
	// Make the old root a slave so unmounting it cannot reach the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// moveRoot is --no-pivot: for roots (such as a ramfs) where pivot_root is
// not allowed, move the rootfs over "/" and chroot into it.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", rootfs, err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// Finalize runs after pivot_root: masked and read-only paths, then the
// read-only root. The order matters: paths are bound before "/" turns
// read-only, because binding needs writable mount points only for missing
// targets, which masked paths never create.
func Finalize(cfg *configs.Config) error {
	return finalizeAt(cfg, "/")
}

// FinalizeBeforePivot does what Finalize does, on the rootfs before
// pivot_root (Options.BeforePivot): for a caller outside the container's
// pid namespace, whose /proc/self is not in the container's /proc.
func FinalizeBeforePivot(cfg *configs.Config) error {
	return finalizeAt(cfg, cfg.Rootfs)
}

func finalizeAt(cfg *configs.Config, rootPath string) error {
	root, err := sysfile.OpenFile(rootPath, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open %s: %w", rootPath, err)
	}
	defer root.Close()
	for _, p := range cfg.ReadonlyPaths {
		if err := readonlyPath(root, p); err != nil {
			return fmt.Errorf("readonly path %s: %w", p, err)
		}
	}
	for _, p := range cfg.MaskedPaths {
		if err := maskPath(root, p, cfg.MountLabel); err != nil {
			return fmt.Errorf("mask path %s: %w", p, err)
		}
	}
	if cfg.Readonly {
		if err := remountBind(rootPath, unix.MS_RDONLY, 0); err != nil {
			return fmt.Errorf("make root read-only: %w", err)
		}
	}
	return nil
}
