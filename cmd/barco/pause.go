package main

import (
	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco"
)

func pauseCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "pause suspends all processes inside the container",
		ArgsUsage: "<container-id>",
		Action:    g.lockedAction((*libbarco.Container).Pause),
	}
}

func resumeCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "resumes all processes that have been previously paused",
		ArgsUsage: "<container-id>",
		Action:    g.lockedAction((*libbarco.Container).Resume),
	}
}
