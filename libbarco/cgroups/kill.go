package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// killTimeout bounds Kill as a whole: signalling and waiting for the cgroup
// to empty.
const killTimeout = 5 * time.Second

// Kill sends SIGKILL to every process of the cgroup and its descendants and
// returns once the cgroup is empty. The processes are not reaped: their
// parents (or a subreaper) must still wait for them.
func (m *Manager) Kill() error {
	if err := m.check(); err != nil {
		return err
	}
	deadline := time.Now().Add(killTimeout)
	err := writeFile(filepath.Join(m.Dir(), "cgroup.kill"), "1")
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && !m.Exists():
		return nil
	case errors.Is(err, fs.ErrNotExist):
		// cgroup.kill is new in Linux 5.14.
		if err := m.killEach(deadline); err != nil {
			return err
		}
	default:
		return fmt.Errorf("kill cgroup %s: %w", m.Path, err)
	}
	return m.waitEmpty(deadline)
}

// killEach signals the processes one by one until none is left, for kernels
// without cgroup.kill. It loops because a process may fork between the
// listing and the signal.
func (m *Manager) killEach(deadline time.Time) error {
	for {
		pids, err := m.Procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kill cgroup %s: %d processes still there after %s", m.Path, len(pids), killTimeout)
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("kill cgroup %s: pid %d: %w", m.Path, pid, err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitEmpty waits until the cgroup has no process left. A cgroup removed
// meanwhile is empty.
func (m *Manager) waitEmpty(deadline time.Time) error {
	err := waitEvent(filepath.Join(m.Dir(), "cgroup.events"), "populated", "0", deadline)
	switch {
	// A cgroup removed while we wait (systemd drops an emptied scope's)
	// reads as ENODEV: it is as empty as can be.
	case err == nil, errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ENODEV):
		return nil
	case errors.Is(err, errTimeout):
		return fmt.Errorf("kill cgroup %s: still populated after %s", m.Path, killTimeout)
	}
	return fmt.Errorf("kill cgroup %s: %w", m.Path, err)
}
