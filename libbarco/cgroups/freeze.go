package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/barco-oci/barco/internal/sysfile"
)

// freezeTimeout bounds how long Freeze and Thaw wait for the kernel to
// report the new state. Freezing waits for every task to reach a point where
// it can stop, which is quick unless a task is stuck in the kernel.
const freezeTimeout = 10 * time.Second

// Freeze stops every process of the cgroup and its descendants (cgroup v2
// freezer) and returns once the kernel reports the cgroup frozen. If that
// does not happen in time, the cgroup is thawed again and an error returned,
// so that a container is never left half frozen.
func (m *Manager) Freeze() error {
	if err := m.check(); err != nil {
		return err
	}
	if err := m.setFrozen(true); err != nil {
		if thawErr := writeFile(filepath.Join(m.Dir(), "cgroup.freeze"), "0"); thawErr != nil {
			err = errors.Join(err, fmt.Errorf("thaw again: %w", thawErr))
		}
		return fmt.Errorf("freeze cgroup %s: %w", m.Path, err)
	}
	return nil
}

// Thaw lets the processes of a frozen cgroup run again.
func (m *Manager) Thaw() error {
	if err := m.check(); err != nil {
		return err
	}
	if err := m.setFrozen(false); err != nil {
		return fmt.Errorf("thaw cgroup %s: %w", m.Path, err)
	}
	return nil
}

func (m *Manager) setFrozen(frozen bool) error {
	v := "0"
	if frozen {
		v = "1"
	}
	if err := writeFile(filepath.Join(m.Dir(), "cgroup.freeze"), v); err != nil {
		return err
	}
	err := waitEvent(filepath.Join(m.Dir(), "cgroup.events"), "frozen", v, time.Now().Add(freezeTimeout))
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("cgroup.events did not report \"frozen %s\" within %s", v, freezeTimeout)
	}
	return err
}

// Frozen reports whether the kernel has frozen the cgroup, either through its
// own cgroup.freeze or an ancestor's. A cgroup that does not exist is not
// frozen.
func (m *Manager) Frozen() (bool, error) {
	data, err := sysfile.Read(filepath.Join(m.Dir(), "cgroup.events"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v, ok := eventValue(string(data), "frozen")
	if !ok {
		return false, fmt.Errorf("cgroup %s: cgroup.events has no frozen field (Linux 5.2+ needed)", m.Path)
	}
	return v == "1", nil
}
