package rootfs

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

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
// missing of it. The part that exists is resolved as openInRoot does; each
// missing component is made with mkdirat under the handle of its parent and
// opened without following symlinks, so that one swapped in meanwhile is
// refused rather than followed. Paths with ".." go to pathrs-lite's
// MkdirAllHandle, which resolves it after the symlinks before it.
func mkdirAllInRoot(root *os.File, p string, mode os.FileMode) (*os.File, error) {
	if slices.Contains(strings.Split(p, "/"), "..") {
		// ".." after a symlink is not what it says lexically.
		return pathrs.MkdirAllHandle(root, p, mode)
	}
	clean := filepath.Clean("/" + p)
	existing, missing := clean, ""
	var dir *os.File
	for {
		f, err := openInRoot(root, existing)
		if err == nil {
			dir = f
			break
		}
		if !errors.Is(err, unix.ENOENT) || existing == "/" {
			return nil, err
		}
		i := strings.LastIndexByte(existing, '/')
		missing = path.Join(existing[i+1:], missing)
		existing = existing[:max(i, 1)]
	}
	if missing == "" {
		var st unix.Stat_t
		if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
			dir.Close()
			return nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			dir.Close()
			return nil, &os.PathError{Op: "mkdir", Path: filepath.Join(root.Name(), clean), Err: unix.ENOTDIR}
		}
		return dir, nil
	}
	for _, name := range strings.Split(missing, "/") {
		err := unix.Mkdirat(int(dir.Fd()), name, uint32(mode.Perm()))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			dir.Close()
			return nil, &os.PathError{Op: "mkdir", Path: filepath.Join(dir.Name(), name), Err: err}
		}
		fd, err := unix.Openat2(int(dir.Fd()), name, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		next := filepath.Join(dir.Name(), name)
		dir.Close()
		if err != nil {
			return nil, &os.PathError{Op: "openat2", Path: next, Err: err}
		}
		dir = os.NewFile(uintptr(fd), next)
	}
	return dir, nil
}
