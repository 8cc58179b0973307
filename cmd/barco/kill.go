package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func killCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "kill sends the specified signal (default: SIGTERM) to the container's init process",
		ArgsUsage: "<container-id> [signal]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the specified signal to all processes inside the container"},
		},
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 2); err != nil {
				return err
			}
			sigName := "SIGTERM"
			// The signal is positional, not a flag, for runc compatibility.
			if ctx.NArg() == 2 {
				sigName = ctx.Args().Get(1)
			}
			sig, err := parseSignal(sigName)
			if err != nil {
				return err
			}
			c, err := g.loadContainer(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Signal(sig, ctx.Bool("all"))
		},
	}
}

// parseSignal accepts a number, a name, or a name without "SIG". 0 is
// kill(2)'s null signal, as in runc: it sends nothing and succeeds only
// while the container runs.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("unknown signal %q", s)
	}
	return sig, nil
}
