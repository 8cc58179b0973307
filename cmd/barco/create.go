package main

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/specconv"
	"github.com/barco-oci/barco/state"
)

// createFlags are shared by create and run.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory, defaults to the current directory"},
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process"},
	}
}

func createCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container",
		ArgsUsage: "<container-id>",
		Flags:     createFlags(),
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 1); err != nil {
				return err
			}
			c, err := createContainer(ctx, g, false)
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
			return nil
		},
	}
}

// createContainer reads the bundle and creates the container named by the
// first argument. keepConsole asks for the pty master (foreground run).
func createContainer(ctx *cli.Context, g *globals, keepConsole bool) (*libbarco.Container, error) {
	id := ctx.Args().First()
	if err := state.ValidateID(id); err != nil {
		return nil, err
	}
	cfg, err := loadConfig(ctx.String("bundle"))
	if err != nil {
		return nil, err
	}
	rt, err := g.runtime()
	if err != nil {
		return nil, err
	}
	preserve := ctx.Int("preserve-fds")
	// Socket activation: the fds systemd passed us go to the container
	// first, before the --preserve-fds ones, with LISTEN_FDS to match.
	if n := listenFDs(); n > 0 {
		cfg.Process.Env = append(cfg.Process.Env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
		preserve += n
	}
	opts := libbarco.CreateOpts{
		PidFile:       ctx.String("pid-file"),
		ConsoleSocket: ctx.String("console-socket"),
		NoPivot:       ctx.Bool("no-pivot"),
		NoNewKeyring:  ctx.Bool("no-new-keyring"),
		PreserveFDs:   preserve,
		KeepConsole:   keepConsole && cfg.Process.Terminal && ctx.String("console-socket") == "",
	}
	if opts.PidFile != "" {
		if opts.PidFile, err = filepath.Abs(opts.PidFile); err != nil {
			return nil, err
		}
	}
	return rt.Create(id, cfg, opts)
}

// listenFDs returns how many fds systemd socket activation passed to this
// process (LISTEN_FDS, valid only when LISTEN_PID is our pid).
func listenFDs() int {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func loadConfig(bundle string) (*configs.Config, error) {
	if bundle == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		bundle = wd
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	spec, err := specconv.LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	return specconv.Convert(spec, specconv.Options{Bundle: bundle})
}
