package libbarco

import (
	"github.com/barco-oci/barco/state"
)

// Processes returns the host pids of every process in the container's
// cgroup and its descendants, sorted. A container whose init is gone is
// not running, even if a stray process is still in its cgroup.
func (c *Container) Processes() ([]int, error) {
	if s := c.Status(); s == state.StatusStopped || s == state.StatusCreating {
		return nil, ErrNotRunning
	}
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if cg == nil || !cg.Exists() {
		return nil, ErrNotRunning
	}
	pids, err := cg.Procs()
	if err != nil {
		return nil, err
	}
	if pids == nil {
		pids = []int{}
	}
	return pids, nil
}
