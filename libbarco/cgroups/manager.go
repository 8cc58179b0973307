package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
)

// Manager handles one cgroup of the cgroup2 hierarchy through the cgroupfs.
// It holds no open resources and records nothing globally, so a Manager can
// be rebuilt from the saved state by any later barco command.
type Manager struct {
	Mount string // cgroup2 mount point
	Path  string // relative to Mount, starts with "/"
	// Log receives the warnings about resources cgroup v2 cannot honour;
	// nil means slog.Default().
	Log *slog.Logger
}

// NewManager returns a Manager for the cgroup at path (as given by
// ResolvePath) under the cgroup2 mount point mount.
func NewManager(mount, path string) *Manager {
	return &Manager{Mount: mount, Path: path}
}

// Dir returns the cgroup's directory.
func (m *Manager) Dir() string {
	return filepath.Join(m.Mount, m.Path)
}

// check guards the operations that create, kill or remove: killing or
// removing "the container's cgroup" with an empty or root path would act on
// the whole host.
func (m *Manager) check() error {
	if m.Mount == "" {
		return errors.New("cgroup manager has no cgroup2 mount")
	}
	p, ok := cleanPath(m.Path)
	if !ok || p != m.Path {
		return fmt.Errorf("cgroup path %q is not a clean absolute path", m.Path)
	}
	if p == "/" {
		return errors.New("refusing to manage the root cgroup")
	}
	return nil
}

// Create makes the cgroup directory, and enables the controllers r needs (see
// RequiredControllers) in the cgroup.subtree_control of every ancestor from
// the root down, so that the cgroup gets their interface files. Controllers
// an ancestor does not offer are left to CheckControllers to report. An
// existing cgroup is reused only when no process lives in it: a populated
// one belongs to someone else.
func (m *Manager) Create(r *specs.LinuxResources) error {
	if err := m.check(); err != nil {
		return err
	}
	if err := m.checkCgroup2(); err != nil {
		return err
	}
	need, err := RequiredControllers(r)
	if err != nil {
		return err
	}
	dir := m.Mount
	for _, elem := range strings.Split(m.Path[1:], "/") {
		if err := enableControllers(dir, need); err != nil {
			return err
		}
		dir = filepath.Join(dir, elem)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create cgroup: %w", err)
		}
	}
	pids, err := m.Procs()
	if err != nil {
		return err
	}
	if len(pids) > 0 {
		return fmt.Errorf("cgroup %s is in use", m.Path)
	}
	return nil
}

// checkCgroup2 makes sure Mount is a cgroup2 filesystem before anything is
// written: on hybrid hosts a wrong mount could be a v1 hierarchy.
func (m *Manager) checkCgroup2() error {
	var st unix.Statfs_t
	if err := unix.Statfs(m.Mount, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", m.Mount, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s is not a cgroup2 mount", m.Mount)
	}
	return nil
}

// enableControllers enables in dir's cgroup.subtree_control those of need
// that dir offers and has not enabled yet.
func enableControllers(dir string, need []string) error {
	avail, err := readFields(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return err
	}
	enabled, err := readFields(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	control := filepath.Join(dir, "cgroup.subtree_control")
	// Every available controller is delegated, not only those the
	// create-time limits need: stats need them, and so does a later
	// `update` (containerd and the kubelet resize containers after
	// creating them). Only a needed one is an error when it cannot be.
	var add []string
	for _, c := range avail {
		if !slices.Contains(enabled, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 || writeFile(control, strings.Join(add, " ")) == nil {
		return nil
	}
	// The kernel does not say which one failed: retry one by one.
	for _, c := range add {
		err := writeFile(control, c)
		if err == nil || !slices.Contains(need, c[1:]) {
			continue
		}
		if errors.Is(err, unix.EBUSY) {
			err = fmt.Errorf("%w (%s has processes of its own, and cgroup v2 cannot then delegate controllers)", err, dir)
		}
		return fmt.Errorf("enable controller %s in %s: %w", c[1:], control, err)
	}
	return nil
}

// OpenFD opens the cgroup directory for clone3's CLONE_INTO_CGROUP
// (SysProcAttr.CgroupFD with UseCgroupFD). The kernel accepts an O_PATH fd
// there, which needs no read permission. The caller closes it.
func (m *Manager) OpenFD() (int, error) {
	fd, err := unix.Open(m.Dir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", m.Dir(), err)
	}
	return fd, nil
}

// Exists reports whether the cgroup directory exists.
func (m *Manager) Exists() bool {
	fi, err := os.Stat(m.Dir())
	return err == nil && fi.IsDir()
}

// Procs returns the PIDs in this cgroup and all its descendants, sorted.
func (m *Manager) Procs() ([]int, error) {
	var pids []int
	err := m.walkDirs(func(dir string) error {
		data, err := sysfile.Read(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		for _, f := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("%s/cgroup.procs: bad pid %q", dir, f)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list processes of cgroup %s: %w", m.Path, err)
	}
	sort.Ints(pids)
	return pids, nil
}

// walkDirs calls fn for the cgroup directory and every descendant cgroup,
// parents before children. A missing cgroup has no directories.
func (m *Manager) walkDirs(fn func(dir string) error) error {
	// Most cgroups have no children, which cgroup.stat says without a
	// listing of the directory's fifty-odd files.
	switch n, err := descendants(m.Dir()); {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err == nil && n == 0:
		return fn(m.Dir())
	}
	err := filepath.WalkDir(m.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		return fn(p)
	})
	return err
}

// Number and spacing of rmdir attempts on EBUSY: a cgroup stays busy for a
// moment after its last task has exited while the kernel finishes tearing
// the dying tasks down.
const (
	rmdirTries = 20
	rmdirDelay = 10 * time.Millisecond
)

// Destroy removes the cgroup and its descendants, deepest first. The
// processes must be gone (see Kill). A cgroup that does not exist is not an
// error.
func (m *Manager) Destroy() error {
	if err := m.check(); err != nil {
		return err
	}
	var dirs []string
	if err := m.walkDirs(func(dir string) error {
		dirs = append(dirs, dir)
		return nil
	}); err != nil {
		return fmt.Errorf("destroy cgroup %s: %w", m.Path, err)
	}
	// The walk lists parents before children; reversing removes leaves first.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := rmdir(dirs[i]); err != nil {
			return fmt.Errorf("destroy cgroup %s: %w", m.Path, err)
		}
	}
	return nil
}

func rmdir(dir string) error {
	for try := 1; ; try++ {
		err := unix.Rmdir(dir)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY) && try < rmdirTries:
			time.Sleep(rmdirDelay)
		default:
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
	}
}

// Controllers returns the controllers the hierarchy can give this cgroup:
// those its parent can delegate, or the root's while the cgroup does not
// exist yet, since its parent may not exist either and is then made from the
// root down.
func (m *Manager) Controllers() ([]string, error) {
	_, ctrls, err := m.controllers()
	return ctrls, err
}

// controllers is Controllers that also returns the directory it read.
func (m *Manager) controllers() (string, []string, error) {
	dir := m.Mount
	if p, ok := cleanPath(m.Path); ok && p != "/" && m.Exists() {
		dir = filepath.Join(m.Mount, path.Dir(p))
	}
	data, err := sysfile.Read(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return "", nil, fmt.Errorf("read cgroup controllers: %w", err)
	}
	return dir, strings.Fields(string(data)), nil
}
