package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco"
)

// globals are runc's global flags and what they set up.
type globals struct {
	root          string
	logFile       string
	logFormat     string
	debug         bool
	systemdCgroup bool
	rootless      string
	criu          string

	log     *slog.Logger
	logSink io.Closer
}

func (g *globals) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "root directory for storage of container state (this should be located in tmpfs)", Destination: &g.root},
		&cli.StringFlag{Name: "log", Usage: "set the log file to write barco logs to (default is stderr)", Destination: &g.logFile},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' or 'json')", Destination: &g.logFormat},
		&cli.BoolFlag{Name: "debug", Usage: "enable debug logging", Destination: &g.debug},
		&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:runc:434234\"", Destination: &g.systemdCgroup},
		&cli.StringFlag{Name: "criu", Value: "criu", Usage: "path to the criu binary used for checkpoint and restore", Destination: &g.criu},
		&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')", Destination: &g.rootless},
	}
}

// setup opens the log as the global flags say. Logs go to the --log file
// when given, else to stderr; errors are always shown on stderr too.
func (g *globals) setup(*cli.Context) error {
	if g.logFormat != "text" && g.logFormat != "json" {
		return fmt.Errorf("invalid --log-format %q: must be text or json", g.logFormat)
	}
	if g.rootless != "auto" && g.rootless != "true" && g.rootless != "false" {
		return fmt.Errorf("invalid --rootless %q: must be true, false or auto", g.rootless)
	}
	var w io.Writer = os.Stderr
	if g.logFile != "" {
		f, err := os.OpenFile(g.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open log file %s: %w", g.logFile, err)
		}
		w, g.logSink = f, f
	}
	level := slog.LevelWarn
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: runcStyleAttrs}
	if g.logFormat == "json" {
		g.log = slog.New(slog.NewJSONHandler(w, opts))
	} else {
		g.log = slog.New(slog.NewTextHandler(w, opts))
	}
	return nil
}

// runcStyleAttrs writes levels in lower case, as runc's logrus does:
// containerd and podman look for "level":"error".
func runcStyleAttrs(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(strings.ToLower(l.String()))
		}
	}
	return a
}

func (g *globals) runtime() (*libbarco.Runtime, error) {
	rt, err := libbarco.New(g.root, g.log)
	if err != nil {
		return nil, err
	}
	rt.SystemdCgroup = g.systemdCgroup
	if g.rootless != "auto" {
		optional := g.rootless == "true"
		rt.CgroupOptional = &optional
	}
	return rt, nil
}

// reportError logs err to the log (where clients read the last error) and
// prints it on stderr.
func (g *globals) reportError(err error) {
	msg := err.Error()
	if g.log != nil && g.logFile != "" {
		g.log.Log(context.Background(), slog.LevelError, msg)
	}
	fmt.Fprintf(os.Stderr, "barco: %s\n", msg)
	if g.logSink != nil {
		g.logSink.Close()
	}
}

// loadContainer finds the container named by the first argument.
func (g *globals) loadContainer(ctx *cli.Context) (*libbarco.Container, error) {
	return g.load(ctx, (*libbarco.Runtime).Load)
}

// loadLockedContainer is loadContainer under the container's lock.
func (g *globals) loadLockedContainer(ctx *cli.Context) (*libbarco.Container, error) {
	return g.load(ctx, (*libbarco.Runtime).LoadLocked)
}

func (g *globals) load(ctx *cli.Context, load func(*libbarco.Runtime, string) (*libbarco.Container, error)) (*libbarco.Container, error) {
	id, err := containerID(ctx)
	if err != nil {
		return nil, err
	}
	rt, err := g.runtime()
	if err != nil {
		return nil, err
	}
	return load(rt, id)
}

func containerID(ctx *cli.Context) (string, error) {
	if ctx.NArg() < 1 {
		return "", errors.New("container id cannot be empty")
	}
	return ctx.Args().First(), nil
}

// checkArgs enforces runc's argument counts.
func checkArgs(ctx *cli.Context, min, max int) error {
	n := ctx.NArg()
	if n < min || (max >= 0 && n > max) {
		return fmt.Errorf("%s: wrong number of arguments (%d); usage: barco %s %s", ctx.Command.Name, n, ctx.Command.Name, ctx.Command.ArgsUsage)
	}
	return nil
}

// defaultRoot is /run/barco for root and $XDG_RUNTIME_DIR/barco for an
// unprivileged user, who cannot write /run.
func defaultRoot() string {
	if os.Geteuid() != 0 {
		if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
			return dir + "/barco"
		}
	}
	return "/run/barco"
}

// lockedAction is the Action of a command that takes one container id and
// changes the container under its lock.
func (g *globals) lockedAction(do func(*libbarco.Container) error) cli.ActionFunc {
	return func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, 1); err != nil {
			return err
		}
		c, err := g.loadLockedContainer(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		return do(c)
	}
}
