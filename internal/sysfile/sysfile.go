// Package sysfile reads small files (procfs, cgroupfs, state) with plain
// system calls. os.ReadFile registers every regular file with Go's network
// poller, which starts the poller (an epoll instance, an eventfd, a thread
// waiting in epoll_pwait) and costs four more system calls per file: a real
// share of a barco command that lives a few milliseconds, and more so of
// `list`, which reads a few files per container. Open is the same plain
// open for callers that write a file or keep its fd.
package sysfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// Read returns the contents of the file at path. Errors are *os.PathError,
// so errors.Is(err, os.ErrNotExist) works as with os.ReadFile.
func Read(path string) ([]byte, error) {
	return ReadAt(unix.AT_FDCWD, path, 0, path)
}

// ReadAt is Read of name relative to the directory fd dirfd, opened with
// the extra open flags (such as O_NOFOLLOW); errors name the file display.
func ReadAt(dirfd int, name string, flags int, display string) ([]byte, error) {
	return read(dirfd, name, flags, display, false, false)
}

// ReadWhole is ReadAt for a regular file or a kernel file of a single
// record, such as /proc/PID/stat: for those a read that does not fill the
// buffer has returned everything, which saves the read that would only
// find the end. (A multi-record file such as cgroup.procs may return short
// reads before its end, and needs ReadAt.)
func ReadWhole(dirfd int, name string, flags int, display string) ([]byte, error) {
	return read(dirfd, name, flags, display, true, false)
}

// ReadRegular is Read for a regular file of any size, such as config.json:
// the buffer is sized with fstat, so that one read returns the file and a
// second finds its end (Read's buffer starts small and doubles).
func ReadRegular(path string) ([]byte, error) {
	return read(unix.AT_FDCWD, path, 0, path, false, true)
}

// Open opens name relative to dirfd with flags (an access mode and more)
// plus O_CLOEXEC and O_NOCTTY, retrying on EINTR, and returns the plain
// fd: an os.File would offer it to the network poller. Errors are
// *os.PathError naming display.
func Open(dirfd int, name string, flags int, display string) (int, error) {
	flags |= unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Openat(dirfd, name, flags, 0)
	for err == unix.EINTR {
		fd, err = unix.Openat(dirfd, name, flags, 0)
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: display, Err: err}
	}
	return fd, nil
}

// OpenFile is Open (relative to the working directory) returning an
// *os.File that the network poller never sees.
func OpenFile(name string, flags int) (*os.File, error) {
	fd, err := Open(unix.AT_FDCWD, name, flags, name)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func read(dirfd int, name string, flags int, display string, whole, sized bool) ([]byte, error) {
	fd, err := Open(dirfd, name, unix.O_RDONLY|flags, display)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	size := 512
	if sized {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil && st.Size >= int64(size) && st.Size < 1<<30 {
			size = int(st.Size) + 1
		}
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: display, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if whole && len(buf) < cap(buf) {
			return buf, nil
		}
	}
}

// WriteAll writes data to fd, retrying on EINTR and after short writes.
func WriteAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
