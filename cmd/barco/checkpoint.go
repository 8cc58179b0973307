package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco"
)

// criuFlags are the options checkpoint and restore share, with runc's names.
func criuFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "path for saving criu image files (default: ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "path for saving work files and logs (default: the image path)"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open tcp connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks, for safety"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "cgroups mode: soft (default), full, strict, ignore, props or none"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "create a namespace, but don't restore its properties (only network)"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "enable auto deduplication of memory images"},
		&cli.BoolFlag{Name: "lazy-pages", Usage: "use userfaultfd to lazily restore memory pages (not supported)"},
	}
}

// criuOptions reads the flags of criuFlags, and the global --criu.
func criuOptions(g *globals, ctx *cli.Context) libbarco.CriuOpts {
	return libbarco.CriuOpts{
		Criu:              g.criu,
		ImagePath:         ctx.String("image-path"),
		WorkPath:          ctx.String("work-path"),
		ManageCgroupsMode: ctx.String("manage-cgroups-mode"),
		TCPEstablished:    ctx.Bool("tcp-established"),
		ExtUnixSk:         ctx.Bool("ext-unix-sk"),
		ShellJob:          ctx.Bool("shell-job"),
		FileLocks:         ctx.Bool("file-locks"),
		AutoDedup:         ctx.Bool("auto-dedup"),
		EmptyNS:           ctx.StringSlice("empty-ns"),
		LazyPages:         ctx.Bool("lazy-pages"),
	}
}

func checkpointCommand(g *globals) *cli.Command {
	flags := append(criuFlags(),
		&cli.StringFlag{Name: "parent-path", Usage: "path for previous criu image files in pre-dump"},
		&cli.BoolFlag{Name: "leave-running", Usage: "leave the process running after checkpointing"},
		&cli.BoolFlag{Name: "tcp-skip-in-flight", Usage: "skip in-flight tcp connections"},
		&cli.BoolFlag{Name: "link-remap", Usage: "allow one to link unlinked files back when possible"},
		&cli.BoolFlag{Name: "pre-dump", Usage: "dump container's memory information only, leave the container running after this"},
		&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of the page server (not supported)"},
		&cli.StringFlag{Name: "status-fd", Usage: "criu writes \\0 to this FD once lazy-pages is ready (not supported)"},
	)
	return &cli.Command{
		Name:      "checkpoint",
		Usage:     "checkpoint a running container",
		ArgsUsage: "<container-id>",
		Flags:     flags,
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 1); err != nil {
				return err
			}
			for _, name := range []string{"page-server", "status-fd"} {
				if ctx.IsSet(name) {
					return fmt.Errorf("--%s: %w", name, libbarco.ErrCheckpointUnsupported)
				}
			}
			opts := libbarco.CheckpointOpts{
				CriuOpts:        criuOptions(g, ctx),
				ParentPath:      ctx.String("parent-path"),
				PreDump:         ctx.Bool("pre-dump"),
				LeaveRunning:    ctx.Bool("leave-running"),
				TCPSkipInFlight: ctx.Bool("tcp-skip-in-flight"),
				LinkRemap:       ctx.Bool("link-remap"),
			}
			c, err := g.loadContainer(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Lock(); err != nil {
				return err
			}
			return c.Checkpoint(opts)
		},
	}
}
