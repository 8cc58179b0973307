package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

// Flags that a bind mount keeps from its source unless told otherwise, and
// that the kernel refuses to clear in a user namespace ("locked" flags).
const lockedFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME

// Flags that only take effect through a remount of a bind mount.
const bindRemountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// mountOne mounts m inside the rootfs open as root. userns is the user
// namespace fd of an idmapped mount, or -1; procCtx is the procfs context
// to mount a proc mount from, or -1.
func mountOne(root *os.File, m *configs.Mount, inUserNS bool, userns, procCtx int) error {
	dir := true
	if m.IsBind() {
		st, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind source: %w", err)
		}
		dir = st.IsDir()
	}
	target, err := OpenTarget(root, m.Destination, dir)
	if err != nil {
		return err
	}
	defer target.Close()
	var under *os.File
	if m.TmpCopyUp {
		// Keep a handle on what the tmpfs will hide, to copy it up.
		if under, err = os.OpenFile(fdPath(target), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open for tmpcopyup: %w", err)
		}
		defer under.Close()
	}
	var remount bool
	switch {
	case userns >= 0:
		remount, err = mountIDMapped(target, m, userns)
	case procCtx >= 0:
		err = mountProcContext(target, m, procCtx)
	default:
		remount, err = mountFirst(target, m, inUserNS)
	}
	if err != nil {
		return err
	}
	// The fd still points below the new mount: reopen the path to reach the
	// mount itself for the remount, propagation and attribute changes.
	top, err := openInRoot(root, m.Destination)
	if err != nil {
		return fmt.Errorf("reopen mount point: %w", err)
	}
	defer top.Close()
	tpath := fdPath(top)
	if under != nil {
		dst, err := os.OpenFile(tpath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open tmpfs for tmpcopyup: %w", err)
		}
		err = copyUp(under, dst)
		dst.Close()
		if err != nil {
			return fmt.Errorf("tmpcopyup: %w", err)
		}
	}
	if remount {
		// A fresh bind copies the source's flags; options such as "ro" need
		// a remount, which must repeat the flags the kernel has locked.
		if err := remountBind(tpath, m.Flags&bindRemountFlags, m.ClearFlags); err != nil {
			return err
		}
	}
	for _, p := range m.PropagationFlags {
		if err := unix.Mount("", tpath, "", uintptr(p), ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	if m.RecAttrSet != 0 || m.RecAttrClr != 0 {
		attr := &unix.MountAttr{Attr_set: m.RecAttrSet, Attr_clr: m.RecAttrClr}
		if err := unix.MountSetattr(int(top.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("mount_setattr: %w", err)
		}
	}
	return nil
}

// mountFirst performs the mount itself on the opened target and reports
// whether the result is a bind mount whose flags still need a remount.
func mountFirst(target *os.File, m *configs.Mount, inUserNS bool) (remount bool, err error) {
	tpath := fdPath(target)
	switch {
	case m.IsBind():
		if err := unix.Mount(m.Source, tpath, "", uintptr(m.Flags&(unix.MS_BIND|unix.MS_REC)), ""); err != nil {
			return false, fmt.Errorf("bind %s: %w", m.Source, err)
		}
		return m.Flags&bindRemountFlags != 0 || m.ClearFlags != 0, nil
	case m.Type == "cgroup" || m.Type == "cgroup2":
		if err := unix.Mount("cgroup2", tpath, "cgroup2", uintptr(m.Flags), m.Data); err != nil {
			return false, fmt.Errorf("mount cgroup2: %w", err)
		}
	case m.Type == "sysfs" && inUserNS:
		// sysfs needs a network namespace owned by the container's user
		// namespace; without one the host's /sys is bound instead.
		err := unix.Mount(m.Source, tpath, m.Type, uintptr(m.Flags), m.Data)
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, unix.EPERM) {
			return false, fmt.Errorf("mount sysfs: %w", err)
		}
		if err := unix.Mount("/sys", tpath, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return false, fmt.Errorf("bind /sys: %w", err)
		}
		return true, nil
	default:
		if err := unix.Mount(m.Source, tpath, m.Type, uintptr(m.Flags&^unix.MS_REMOUNT), m.Data); err != nil {
			return false, fmt.Errorf("mount %s: %w", m.Type, err)
		}
	}
	return false, nil
}

// remountBind changes the flags of the bind mount at path, keeping the
// locked flags it already has unless they are explicitly cleared.
func remountBind(path string, flags, clear uint64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	cur := uint64(st.Flags) & lockedFlags
	flags |= cur &^ clear
	if err := unix.Mount("", path, "", uintptr(flags|unix.MS_BIND|unix.MS_REMOUNT), ""); err != nil {
		return fmt.Errorf("remount bind: %w", err)
	}
	return nil
}

// procAttrs are the mount flags a proc mount may have, as mount attributes.
var procAttrs = []struct {
	flag uint64
	attr uint64
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME},
	{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	{unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
	{unix.MS_RELATIME, unix.MOUNT_ATTR_RELATIME},
}

// ProcContextFlags are the mount flags a proc mount made from a context
// can have; a mount with others needs mount(2) in the pid namespace.
const ProcContextFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_STRICTATIME | unix.MS_RELATIME

// mountProcContext creates the procfs of the context ctx with m's options
// and moves it onto the target.
func mountProcContext(target *os.File, m *configs.Mount, ctx int) error {
	if m.Flags&^ProcContextFlags != 0 {
		return fmt.Errorf("mount proc: flags %#x need mount(2)", m.Flags&^ProcContextFlags)
	}
	if m.Source != "" {
		if err := unix.FsconfigSetString(ctx, "source", m.Source); err != nil {
			return fmt.Errorf("mount proc: source %s: %w", m.Source, err)
		}
	}
	for _, opt := range strings.Split(m.Data, ",") {
		if opt == "" {
			continue
		}
		var err error
		if k, v, ok := strings.Cut(opt, "="); ok {
			err = unix.FsconfigSetString(ctx, k, v)
		} else {
			err = unix.FsconfigSetFlag(ctx, opt)
		}
		if err != nil {
			return fmt.Errorf("mount proc: option %s: %w", opt, err)
		}
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return fmt.Errorf("mount proc: %w", err)
	}
	var attr uint64
	for _, a := range procAttrs {
		if m.Flags&a.flag != 0 {
			attr |= a.attr
		}
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, int(attr))
	if err != nil {
		return fmt.Errorf("mount proc: fsmount: %w", err)
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount proc: move_mount: %w", err)
	}
	return nil
}

// mountIDMapped clones the bind source as a detached mount, gives it the
// user namespace's mappings, and moves it onto the target.
func mountIDMapped(target *os.File, m *configs.Mount, userns int) (remount bool, err error) {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if m.Flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, m.Source, uint(flags))
	if err != nil {
		return false, fmt.Errorf("open_tree %s: %w", m.Source, err)
	}
	defer unix.Close(tree)
	attrFlags := unix.AT_EMPTY_PATH
	if m.IDMapRecursive {
		attrFlags |= unix.AT_RECURSIVE
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns)}
	if err := unix.MountSetattr(tree, "", uint(attrFlags), attr); err != nil {
		return false, fmt.Errorf("idmap %s: %w", m.Source, err)
	}
	if err := unix.MoveMount(tree, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return false, fmt.Errorf("move idmapped mount: %w", err)
	}
	return m.Flags&bindRemountFlags != 0 || m.ClearFlags != 0, nil
}
