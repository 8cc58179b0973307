package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copyUp copies the directory tree of src into dst, both open directories,
// keeping modes, owners and symlinks: "tmpcopyup" fills a fresh tmpfs with
// what the image had at its mount point. Everything is opened relative to
// the two fds without following symlinks, so the image cannot redirect it.
func copyUp(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory: %w", err)
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for _, name := range names {
		if err := copyEntry(sfd, dfd, name); err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
	}
	return nil
}

func copyEntry(sfd, dfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	perm := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, name, perm); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		s, err := openDirAt(sfd, name)
		if err != nil {
			return err
		}
		defer s.Close()
		d, err := openDirAt(dfd, name)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := copyUp(s, d); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(sfd, dfd, name, perm); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := readlinkat(sfd, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, dfd, name); err != nil {
			return err
		}
	default:
		// Device nodes, fifos and sockets are recreated as they were.
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// chown clears set-id bits; restore the exact mode.
		if err := unix.Fchmodat(dfd, name, perm, 0); err != nil {
			return err
		}
	}
	return nil
}

func openDirAt(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func copyFile(sfd, dfd int, name string, perm uint32) error {
	in, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	src := os.NewFile(uintptr(in), name)
	defer src.Close()
	out, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return err
	}
	dst := os.NewFile(uintptr(out), name)
	defer dst.Close()
	_, err = io.Copy(dst, src)
	return err
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
