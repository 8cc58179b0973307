package libbarco

import (
	"errors"
	"syscall"
)

// Wait waits for the container's init to exit and returns its exit code as
// a shell reports it (128+signal for a signal death). Only the process that
// created the container can wait for it.
func (c *Container) Wait() (int, error) {
	if c.initProc == nil {
		return -1, errors.New("container was not created by this process")
	}
	ps, err := c.initProc.Wait()
	if err != nil {
		return -1, err
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.ExitCode(), nil
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
