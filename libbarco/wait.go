package libbarco

import "errors"

// Wait waits for the container's init to exit and returns its exit code as
// a shell reports it (128+signal for a signal death). Only the process that
// created the container can wait for it.
func (c *Container) Wait() (int, error) {
	if c.init == nil {
		return -1, errors.New("container was not created by this process")
	}
	return c.init.wait()
}
