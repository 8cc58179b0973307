package main

import (
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sigrelay"
	"github.com/barco-oci/barco/libbarco"
	"github.com/barco-oci/barco/libbarco/console"
)

func runCommand(g *globals) *cli.Command {
	flags := append(createFlags(),
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
	)
	return &cli.Command{
		Name:      "run",
		Usage:     "create and run a container",
		ArgsUsage: "<container-id>",
		Flags:     flags,
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 1); err != nil {
				return err
			}
			detach := ctx.Bool("detach")
			if !detach {
				// Reap what the container leaves behind when it has no pid
				// namespace of its own.
				_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
			}
			c, err := createContainer(ctx, g, !detach)
			if err != nil {
				return err
			}
			defer c.Close()
			if s := ctx.String("pidfd-socket"); s != "" {
				if err := sendPidfd(s, c.Pid()); err != nil {
					_ = c.Delete(true)
					return err
				}
			}
			if detach {
				if err := c.Start(); err != nil {
					_ = c.Delete(true)
					return err
				}
				return nil
			}
			code, err := runForeground(c)
			return finishForeground(c, code, err, ctx.Bool("keep"))
		},
	}
}

// runForeground starts the container, forwards signals to it and proxies
// its terminal, and returns its exit code.
//
// The signal relay is never stopped (here and in restore): it stays
// installed until barco exits, so that a signal arriving while the ended
// container is deleted is swallowed rather than ending barco halfway
// through the deletion; and giving back the handlers would cost two system
// calls per signal just before the process ends anyway.
func runForeground(c *libbarco.Container) (int, error) {
	relay, err := sigrelay.Start()
	if err != nil {
		return -1, err
	}

	var ttyDone <-chan struct{}
	if c.Console != nil {
		done, restore := console.Proxy(c.Console, os.Stdin, proxyStdout())
		defer restore()
		ttyDone = done
	}
	if err := c.Start(); err != nil {
		return -1, err
	}
	return forwardUntilExit(c, relay.C, ttyDone)
}

// forwardUntilExit forwards the signals arriving on sigs to the container
// until it exits, waits for the end of its terminal output (ttyDone, if
// any) and returns its exit code. The container's lock is released first:
// others may act on it meanwhile, e.g. `delete --force`.
func forwardUntilExit(c *libbarco.Container, sigs <-chan unix.Signal, ttyDone <-chan struct{}) (int, error) {
	if err := c.Unlock(); err != nil {
		return -1, err
	}
	exited := make(chan struct{})
	var code int
	var werr error
	go func() {
		code, werr = c.Wait()
		close(exited)
	}()
	for {
		select {
		case s := <-sigs:
			forwardSignal(c, s)
		case <-exited:
			if ttyDone != nil {
				<-ttyDone
			}
			return code, werr
		}
	}
}

// finishForeground deletes a container whose foreground process has ended
// (unless keep) and turns its exit code into barco's.
func finishForeground(c *libbarco.Container, code int, err error, keep bool) error {
	if err != nil {
		_ = c.Delete(true)
		return err
	}
	if !keep {
		if err := c.Lock(); err != nil {
			return err
		}
		if err := c.Delete(true); err != nil {
			return err
		}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

func forwardSignal(c *libbarco.Container, s unix.Signal) {
	switch s {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
		// SIGURG is the Go runtime's own preemption signal.
	case unix.SIGWINCH:
		if c.Console != nil {
			console.ResizeFrom(c.Console, os.Stdin)
		}
	default:
		_ = c.Signal(s, false)
	}
}

// proxyStdout is where a foreground command copies the container's
// terminal output: a duplicate of stdout. Written through os.Stdout, a
// broken pipe would end barco with SIGPIPE (the Go runtime's rule for
// descriptors 1 and 2 when SIGPIPE is not caught through os/signal, which
// sigrelay bypasses), leaving the container undeleted; on a duplicate the
// copy just stops.
func proxyStdout() *os.File {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return os.Stdout
	}
	return os.NewFile(uintptr(fd), "stdout")
}
