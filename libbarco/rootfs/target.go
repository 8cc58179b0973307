package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// OpenTarget opens (O_PATH) the path dest inside root, resolving every
// symlink as if root were "/" so a hostile rootfs cannot point a mount at
// the host. When it does not exist it is created: a directory when dir is
// true, an empty file otherwise.
func OpenTarget(root *os.File, dest string, dir bool) (*os.File, error) {
	f, err := openInRoot(root, dest)
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open %s in rootfs: %w", dest, err)
	}
	if dir {
		d, err := mkdirAllInRoot(root, dest, 0o755)
		if err != nil {
			return nil, fmt.Errorf("mkdir %s in rootfs: %w", dest, err)
		}
		return d, nil
	}
	parent, err := mkdirAllInRoot(root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, fmt.Errorf("mkdir %s in rootfs: %w", filepath.Dir(dest), err)
	}
	defer parent.Close()
	base := filepath.Base(dest)
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_WRONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create %s in rootfs: %w", dest, err)
	}
	if err == nil {
		unix.Close(fd)
	}
	f, err = openInRoot(root, dest)
	if err != nil {
		return nil, fmt.Errorf("open %s in rootfs: %w", dest, err)
	}
	return f, nil
}

// fdPath is the magic-link path of an open file, usable as a mount target
// so that the kernel mounts exactly on the inode that was checked.
func fdPath(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}
