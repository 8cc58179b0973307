package rootfs

import (
	"errors"
	"os"
	"path/filepath"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// openInRoot opens (O_PATH) the path p inside root, resolving it as if root
// were "/": "..", absolute symlinks and symlinks out of the tree stay
// inside, and magic links (/proc/self/fd/N and the like) are refused. This
// is what pathrs-lite's OpenatInRoot does with openat2, less the procfs
// round trip it adds to give the handle its resolved path as a name, ten
// system calls more for each of the thirty-odd paths a container's set-up
// opens. Kernels without openat2 (before 5.6) get pathrs-lite's own
// resolver.
func openInRoot(root *os.File, p string) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(int(root.Fd()), p, &how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), filepath.Join(root.Name(), p)), nil
		case errors.Is(err, unix.ENOSYS):
			return pathrs.OpenatInRoot(root, p)
		case (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EXDEV)) && tries < maxLookupRetries:
			// A concurrent rename or mount made the kernel unsure the
			// lookup stayed inside root: it asks for a retry.
			continue
		case errors.Is(err, unix.EINTR):
			continue
		default:
			return nil, &os.PathError{Op: "openat2", Path: filepath.Join(root.Name(), p), Err: err}
		}
	}
}

// maxLookupRetries bounds the retries of a lookup that keeps racing with
// renames.
const maxLookupRetries = 128

// mkdirAllInRoot opens the directory p inside root, creating what is
// missing of it (pathrs-lite's MkdirAllHandle, which is safe against
// symlinks swapped in while it works but costs far more when the directory
// is already there).
func mkdirAllInRoot(root *os.File, p string, mode os.FileMode) (*os.File, error) {
	f, err := openInRoot(root, p)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return f, nil
		}
		f.Close()
	}
	return pathrs.MkdirAllHandle(root, p, mode)
}
