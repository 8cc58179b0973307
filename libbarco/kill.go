package libbarco

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/state"
)

// Signal sends sig to the container's init, through a pidfd so a reused
// pid is never hit. With all, every process of the container's cgroup gets
// it.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	if all {
		return c.signalAll(sig)
	}
	if s := c.Status(); s == state.StatusStopped || s == state.StatusCreating {
		return ErrNotRunning
	}
	fd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("signal %d: %w", sig, err)
	}
	return nil
}

func (c *Container) signalAll(sig unix.Signal) error {
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if cg == nil || !cg.Exists() {
		return ErrNotRunning
	}
	if sig == unix.SIGKILL {
		return cg.Kill()
	}
	pids, err := cg.Procs()
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return ErrNotRunning
	}
	// A paused container's processes would only queue the signal.
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal pid %d: %w", pid, err)
		}
	}
	return nil
}

// waitInitExit blocks until the init has exited, through its pidfd.
func (c *Container) waitInitExit() error {
	fd, err := c.pidfd()
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for init: %w", err)
		}
		return nil
	}
}
