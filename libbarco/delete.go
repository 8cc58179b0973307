package libbarco

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/hooks"
	"github.com/barco-oci/barco/state"
)

// Delete removes the container: its processes (a created container's init,
// or anything when force is set), its cgroup and its state directory. The
// caller holds the container's lock.
func (c *Container) Delete(force bool) error {
	switch s := c.Status(); s {
	case state.StatusStopped:
	case state.StatusCreated, state.StatusCreating:
		// Nothing of the user's runs yet: tearing down is always safe.
		if err := c.killAndWait(); err != nil {
			return err
		}
	default:
		if !force {
			return fmt.Errorf("cannot delete container %q that is not stopped: %s: %w", c.ID, s, ErrNotStopped)
		}
		if err := c.killAndWait(); err != nil {
			return err
		}
	}
	return c.destroy()
}

func (c *Container) killAndWait() error {
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if cg != nil && cg.Exists() {
		// A frozen cgroup must thaw for SIGKILL to be acted on.
		if c.frozen() {
			_ = writeFile(cg.Dir()+"/cgroup.freeze", "0")
		}
		if err := cg.Kill(); err != nil {
			return err
		}
	} else if c.st.Pid != 0 {
		if err := c.Signal(unix.SIGKILL, false); err != nil && err != ErrNotRunning {
			return err
		}
	}
	if c.st.Pid != 0 {
		return c.waitInitExit()
	}
	return nil
}

// destroy removes what is left of a stopped container, then runs the
// poststop hooks; their failures are only logged, as runtime-spec says.
func (c *Container) destroy() error {
	if c.st.CgroupDriver == cgroupDriverSystemd {
		unit, err := c.systemdUnit()
		if err != nil {
			return err
		}
		// Kills what is left, stops the unit and removes its cgroup.
		if err := unit.Destroy(); err != nil {
			return err
		}
	} else if err := c.destroyCgroup(); err != nil {
		return err
	}
	if cfg, err := c.Config(); err == nil {
		// Every poststop hook runs, whatever the ones before did.
		for i, h := range cfg.Hooks.Poststop {
			if err := hooks.Run("poststop", i, h, c.specState(specs.StateStopped)); err != nil {
				c.rt.Log.Warn("poststop hook failed", "id", c.ID, "error", err)
			}
		}
	}
	return c.h.Remove()
}

// destroyCgroup removes a cgroup of barco's own driver.
func (c *Container) destroyCgroup() error {
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if cg != nil {
		// Processes that outlived the init (no pid namespace) go too.
		if procs, err := cg.Procs(); err == nil && len(procs) > 0 {
			if err := cg.Kill(); err != nil {
				return err
			}
		}
		if err := cg.Destroy(); err != nil {
			return err
		}
	}
	return nil
}
