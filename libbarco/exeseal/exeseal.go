// Package exeseal opens the running barco binary read-only in a way that a
// process inside a container cannot write through, so that re-executing it
// as the container's init (or for exec) cannot be turned into an overwrite of
// the host binary through /proc/PID/exe (CVE-2019-5736).
//
// The cheap path mounts a private, detached, read-only overlayfs whose lower
// layer is the binary's directory (fsopen/fsmount: the mount is attached to
// no mount namespace and disappears with its last fd) and opens the binary
// from it: a write open through /proc/PID/exe then fails with EROFS and no
// bytes are copied. An overlay without an upper layer needs a second lower
// layer, which must not overlap the first: an empty, read-only, detached
// tmpfs, named through its fd, wherever the binary lives. Kernels or
// filesystems where that fails get a sealed memfd copy instead.
package exeseal

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Open returns a read-only, close-on-exec file of the barco binary that is
// safe to execve (through /proc/self/fd/N) inside a container's namespaces.
func Open() (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	if f, err := openThroughOverlay(self); err == nil {
		return f, nil
	}
	return sealedCopy(self)
}

// emptyTmpfs returns the fd of an empty, read-only, detached tmpfs.
func emptyTmpfs() (int, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigSetString(ctx, "size", "4k"); err != nil {
		return -1, fmt.Errorf("tmpfs option size: %w", err)
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, fmt.Errorf("create tmpfs: %w", err)
	}
	fd, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	return fd, nil
}

// openThroughOverlay opens binary from a read-only overlay of its
// directory and an empty tmpfs.
func openThroughOverlay(binary string) (*os.File, error) {
	empty, err := emptyTmpfs()
	if err != nil {
		return nil, err
	}
	defer unix.Close(empty)
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	opts := [][2]string{
		{"lowerdir", filepath.Dir(binary) + ":/proc/self/fd/" + strconv.Itoa(empty)},
		// Keep the overlay as plain as possible: no index or xino files are
		// looked up or written for a read-only view of one directory.
		{"index", "off"},
		{"xino", "off"},
		{"metacopy", "off"},
		{"redirect_dir", "off"},
	}
	for _, kv := range opts {
		if err := unix.FsconfigSetString(ctx, kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("overlay option %s: %w", kv[0], err)
		}
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("create overlay: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(binary), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in overlay: %w", binary, err)
	}
	return os.NewFile(uintptr(fd), binary), nil
}

// sealedCopy copies the binary into a memfd and seals it against any change.
func sealedCopy(binary string) (*os.File, error) {
	src, err := os.Open(binary)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("barco", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	dst := os.NewFile(uintptr(fd), "memfd:barco")
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return nil, fmt.Errorf("copy %s to memfd: %w", binary, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		dst.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return dst, nil
}
