package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco/features"
)

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "show the enabled features",
		Description: `Show what this build of barco supports, in the runtime-spec
features.md format. The output is JSON and meant for programs.`,
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 0, 0); err != nil {
				return err
			}
			// Four-space indent, as runc prints it.
			data, err := json.MarshalIndent(features.Get(version, gitCommit), "", "    ")
			if err != nil {
				return err
			}
			_, err = ctx.App.Writer.Write(append(data, '\n'))
			return err
		},
	}
}
