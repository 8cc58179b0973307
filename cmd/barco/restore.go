package main

import (
	"path/filepath"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sigrelay"
	"github.com/barco-oci/barco/libbarco"
	"github.com/barco-oci/barco/state"
)

func restoreCommand(g *globals) *cli.Command {
	flags := append(criuFlags(),
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory, defaults to the current directory"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket for the console (containers with a terminal cannot be restored yet)"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "accepted for compatibility; criu sets up the root itself"},
		&cli.StringFlag{Name: "lsm-profile", Usage: "LSM profile to use on restore, TYPE:NAME"},
		&cli.StringFlag{Name: "lsm-mount-context", Usage: "LSM mount context to use on restore"},
	)
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a container from a previous checkpoint",
		ArgsUsage: "<container-id>",
		Flags:     flags,
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 1); err != nil {
				return err
			}
			id := ctx.Args().First()
			if err := state.ValidateID(id); err != nil {
				return err
			}
			detach := ctx.Bool("detach")
			if !detach && !ctx.Bool("no-subreaper") {
				_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
			}
			cfg, err := loadConfig(ctx.String("bundle"))
			if err != nil {
				return err
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			opts := libbarco.RestoreOpts{
				CriuOpts:        criuOptions(g, ctx),
				PidFile:         ctx.String("pid-file"),
				ConsoleSocket:   ctx.String("console-socket"),
				LSMProfile:      ctx.String("lsm-profile"),
				LSMMountContext: ctx.String("lsm-mount-context"),
			}
			if opts.PidFile != "" {
				if opts.PidFile, err = filepath.Abs(opts.PidFile); err != nil {
					return err
				}
			}
			c, err := rt.Restore(id, cfg, opts)
			if err != nil {
				return err
			}
			defer c.Close()
			if detach {
				return nil
			}
			code, err := waitRestored(c)
			return finishForeground(c, code, err, false)
		},
	}
}

// waitRestored forwards signals to the restored container until it exits,
// as a foreground `run` does (keeping the relay, see runForeground), and
// returns its exit code.
func waitRestored(c *libbarco.Container) (int, error) {
	relay, err := sigrelay.Start()
	if err != nil {
		return -1, err
	}
	return forwardUntilExit(c, relay.C, nil)
}
