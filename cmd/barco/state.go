package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"
)

func stateCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "output the state of a container",
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
			data, err := json.MarshalIndent(c.State(), "", "  ")
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(append(data, '\n'))
			return err
		},
	}
}
