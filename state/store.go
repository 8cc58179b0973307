// Package state is barco's on-disk store of containers: one directory per
// container under the global --root, holding state.json and the engine's
// auxiliary files. It creates, locks, loads, saves, lists and removes those
// directories, and defines the OCI state JSON that `barco state` prints.
//
// Concurrent barco processes coordinate through an exclusive flock on the
// container directory. A directory only becomes visible under its id while
// its creator already holds that lock, so no other process can see, lock or
// delete a half-made container.
package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Store is the directory holding one subdirectory per container.
type Store struct {
	Root string
}

// NewStore makes root (and its parents) if needed and returns a store on its
// absolute path, so handles keep working if the process changes directory.
func NewStore(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("state root %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	return &Store{Root: abs}, nil
}

// Create makes the directory of a new container and returns it locked.
// It fails with ErrExist if the id is taken.
func (s *Store) Create(id string) (*Handle, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Root, id)
	// Build and lock the directory under a hidden name, then move it into
	// place without replacing anything: the id appears already locked.
	// The temporary name leaves the id out so that any id short enough for
	// a directory name (NAME_MAX) works.
	//
	// Until the temporary directory is locked, the root is held with a
	// shared lock: SweepAbandoned, holding it exclusively, then knows that
	// an unlocked temporary directory belongs to a create that died.
	root, err := openDir(s.Root)
	if err != nil {
		return nil, fmt.Errorf("create container %q: %w", id, &os.PathError{Op: "open", Path: s.Root, Err: err})
	}
	if err := flock(root, unix.LOCK_SH); err != nil {
		_ = unix.Close(root)
		return nil, fmt.Errorf("create container %q: %w", id, &os.PathError{Op: "flock", Path: s.Root, Err: err})
	}
	tmp := filepath.Join(s.Root, tmpPrefix+strconv.FormatUint(rand.Uint64(), 36))
	if err := unix.Mkdir(tmp, 0o711); err != nil {
		_ = unix.Close(root)
		return nil, fmt.Errorf("create container %q: mkdir %s: %w", id, tmp, err)
	}
	fd, err := openLockedDir(tmp)
	_ = unix.Close(root)
	if err != nil {
		_ = unix.Rmdir(tmp)
		return nil, fmt.Errorf("create container %q: %w", id, err)
	}
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) {
		// The filesystem lacks RENAME_NOREPLACE; mkdir is atomic on its
		// own, at the price of a short window in which the new directory
		// is visible unlocked.
		_ = unix.Close(fd)
		_ = unix.Rmdir(tmp)
		return s.createPlain(id, dir)
	}
	if err != nil {
		_ = unix.Close(fd)
		_ = unix.Rmdir(tmp)
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			return nil, errExist(id)
		}
		return nil, fmt.Errorf("create container %q: rename %s: %w", id, tmp, err)
	}
	return &Handle{ID: id, Dir: dir, fd: fd}, nil
}

// tmpPrefix starts the name of a container directory being created.
const tmpPrefix = ".new-"

// SweepAbandoned removes the temporary directories of creates that died
// before moving them into place (they are empty then). It holds the root's
// lock exclusively, so no create is between making its temporary
// directory and locking it; one that is not locked belongs to nobody.
func (s *Store) SweepAbandoned() error {
	root, err := openDir(s.Root)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: s.Root, Err: err}
	}
	defer unix.Close(root)
	if err := flock(root, unix.LOCK_EX); err != nil {
		return &os.PathError{Op: "flock", Path: s.Root, Err: err}
	}
	entries, err := readDir(s.Root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		fd, err := unix.Openat(root, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			if err := unix.Unlinkat(root, e.Name(), unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
				_ = unix.Close(fd)
				return &os.PathError{Op: "rmdir", Path: filepath.Join(s.Root, e.Name()), Err: err}
			}
		}
		_ = unix.Close(fd)
	}
	return nil
}

func (s *Store) createPlain(id, dir string) (*Handle, error) {
	if err := unix.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, errExist(id)
		}
		return nil, fmt.Errorf("create container %q: mkdir %s: %w", id, dir, err)
	}
	fd, err := openLockedDir(dir)
	if err != nil {
		_ = unix.Rmdir(dir)
		return nil, fmt.Errorf("create container %q: %w", id, err)
	}
	return &Handle{ID: id, Dir: dir, fd: fd}, nil
}

func openLockedDir(dir string) (int, error) {
	fd, err := openDir(dir)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	if err := flock(fd, unix.LOCK_EX); err != nil {
		_ = unix.Close(fd)
		return -1, &os.PathError{Op: "flock", Path: dir, Err: err}
	}
	return fd, nil
}

// openDir refuses symlinks so that a link planted under the root cannot make
// barco lock or write somewhere else.
func openDir(dir string) (int, error) {
	for {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// Open returns an unlocked handle on an existing container; call Lock before
// reading state that must not change underneath.
func (s *Store) Open(id string) (*Handle, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Root, id)
	fd, err := openDir(dir)
	if err != nil {
		// A file or symlink under the root is not a container either;
		// List skips them the same way.
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil, errNotExist(id)
		}
		return nil, fmt.Errorf("open container %q: %w", id, &os.PathError{Op: "open", Path: dir, Err: err})
	}
	return &Handle{ID: id, Dir: dir, fd: fd}, nil
}

// List returns the ids of all containers, sorted. Entries that cannot be
// containers (files, symlinks, hidden or invalid names, half-made
// directories) are skipped. A missing root holds no containers.
func (s *Store) List() ([]string, error) {
	entries, err := readDir(s.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list containers: %w", err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() && ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// readDir is os.ReadDir without registering the directory with Go's
// network poller, whose start-up costs a short command more than the
// listing (see internal/sysfile).
func readDir(dir string) ([]os.DirEntry, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	return f.ReadDir(-1)
}
