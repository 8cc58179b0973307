package main

import (
	"github.com/urfave/cli/v2"
)

func startCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "executes the user defined process in a created container",
		ArgsUsage: "<container-id>",
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 1); err != nil {
				return err
			}
			c, err := g.loadContainer(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Lock(); err != nil {
				return err
			}
			return c.Start()
		},
	}
}
