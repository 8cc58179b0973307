package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// maskPath hides p: a directory gets an empty read-only tmpfs, anything else
// /dev/null bound over it. A missing path is nothing to hide.
func maskPath(root *os.File, p, mountLabel string) error {
	target, err := openInRoot(root, p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer target.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(target.Fd()), &st); err != nil {
		return err
	}
	tpath := fdPath(target)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		data := ""
		if mountLabel != "" {
			data = "context=" + mountLabel
		}
		return unix.Mount("tmpfs", tpath, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, data)
	}
	null, err := openDevNull(root)
	if err != nil {
		return err
	}
	defer null.Close()
	return unix.Mount(fdPath(null), tpath, "", unix.MS_BIND, "")
}

// openDevNull opens the container's /dev/null and checks that it is the
// real null device: a container that replaced it with something else must
// not get that bound over the masked paths (CVE-2025-31133).
func openDevNull(root *os.File) (*os.File, error) {
	f, err := openInRoot(root, "/dev/null")
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		f.Close()
		return nil, errors.New("/dev/null is not the null device")
	}
	return f, nil
}

// readonlyPath bind-mounts p onto itself read-only.
func readonlyPath(root *os.File, p string) error {
	target, err := openInRoot(root, p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Mount(fdPath(target), fdPath(target), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	top, err := openInRoot(root, p)
	if err != nil {
		return err
	}
	defer top.Close()
	return remountBind(fdPath(top), unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, 0)
}
