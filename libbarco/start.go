package libbarco

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/hooks"
	"github.com/barco-oci/barco/state"
)

// Start lets the created container's init execve the container process.
// It returns once the process runs (or failed to exec). The caller holds
// the container's lock.
func (c *Container) Start() error {
	switch s := c.Status(); s {
	case state.StatusCreated:
	case state.StatusStopped:
		return errors.New("cannot start a container that has stopped")
	default:
		return fmt.Errorf("cannot start a container in the %s state: %w", s, ErrNotCreated)
	}
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	if len(cfg.Process.Args) == 0 {
		return errors.New("process: the container's config has no process to start")
	}
	pidfd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	fifoPath := c.h.Path(execFifoName)
	// Non-blocking: the init may have died; the pidfd tells us.
	fd, err := unix.Open(fifoPath, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	got, err := readFifo(fd, pidfd)
	if err != nil {
		return err
	}
	if !got {
		return errors.New("container init exited before start")
	}
	if err := os.Remove(fifoPath); err != nil {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	return c.runPoststart(cfg.Hooks.Poststart)
}

// runPoststart runs the poststart hooks; if one fails the container is
// stopped and start fails, as runtime-spec 1.3 asks.
func (c *Container) runPoststart(poststart []configs.Hook) error {
	if len(poststart) == 0 {
		return nil
	}
	if err := hooks.RunAll("poststart", poststart, c.specState(specs.StateRunning)); err != nil {
		if kerr := c.killAndWait(); kerr != nil {
			c.rt.Log.Warn("stop container after failed poststart hook", "id", c.ID, "error", kerr)
		}
		return err
	}
	return nil
}

// readFifo waits for the init's byte on the exec fifo, then for the end of
// file that its execve causes. It reports whether the byte came.
func readFifo(fd, pidfd int) (bool, error) {
	got := false
	buf := make([]byte, 16)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return got, fmt.Errorf("poll exec fifo: %w", err)
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0 {
			n, err := unix.Read(fd, buf)
			switch {
			case n > 0:
				got = true
				continue
			case err == nil && got:
				return true, nil // EOF after the byte: the process was exec'd
			case errors.Is(err, unix.EAGAIN):
			case err != nil:
				return got, fmt.Errorf("read exec fifo: %w", err)
			}
		}
		if fds[1].Revents&unix.POLLIN != 0 {
			// The init exited: either after exec (it closed the fifo) or
			// before it ever wrote.
			return got, nil
		}
	}
}
