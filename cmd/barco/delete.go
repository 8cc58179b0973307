package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/state"
)

func deleteCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete any resources held by the container often used with detached container",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "forcibly deletes the container if it is still running (uses SIGKILL)"},
		},
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 1); err != nil {
				return err
			}
			force := ctx.Bool("force")
			c, err := g.loadLockedContainer(ctx)
			if errors.Is(err, state.ErrNotCreated) && force {
				return forceRemoveHalfCreated(g, ctx.Args().First())
			}
			// A forced delete is idempotent, as containerd expects; it
			// also clears what a create killed before naming its
			// directory left.
			if errors.Is(err, state.ErrNotExist) && force {
				rt, err := g.runtime()
				if err != nil {
					return err
				}
				return rt.Store.SweepAbandoned()
			}
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Delete(force)
		},
	}
}

// forceRemoveHalfCreated removes the directory of a container whose create
// died before recording anything.
func forceRemoveHalfCreated(g *globals, id string) error {
	rt, err := g.runtime()
	if err != nil {
		return err
	}
	h, err := rt.Store.Open(id)
	if err != nil {
		return err
	}
	if err := h.Lock(); err != nil {
		h.Close()
		return err
	}
	return h.Remove()
}
