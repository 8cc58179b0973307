package main

import (
	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco"
)

func startCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "executes the user defined process in a created container",
		ArgsUsage: "<container-id>",
		Action:    g.lockedAction((*libbarco.Container).Start),
	}
}
