package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sigrelay"
	"github.com/barco-oci/barco/libbarco"
	"github.com/barco-oci/barco/libbarco/caps"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/console"
	"github.com/barco-oci/barco/specconv"
)

func execCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "execute new process inside the container",
		ArgsUsage: "<container-id> <command> [command options]  || -p process.json <container-id>",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
			&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
			&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
			&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
			&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
			&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
		},
		Action: func(ctx *cli.Context) error {
			err := execAction(g, ctx)
			var ee *exitError
			if err != nil && !errors.As(err, &ee) {
				return &codedError{err: err, code: 255}
			}
			return err
		},
	}
}

// execAction starts the process and, unless detached, waits for it; its
// exit status comes back as an *exitError.
func execAction(g *globals, ctx *cli.Context) error {
	if err := checkArgs(ctx, 1, -1); err != nil {
		return err
	}
	c, err := g.loadContainer(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	proc, err := execProcess(ctx, c)
	if err != nil {
		return err
	}
	detach := ctx.Bool("detach")
	if !detach {
		// Our process may be forked into the container's pid
		// namespace by a short-lived intermediate: we must inherit it.
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	opts := libbarco.ExecOpts{
		ConsoleSocket: ctx.String("console-socket"),
		KeepConsole:   !detach && proc.Terminal && ctx.String("console-socket") == "",
		PreserveFDs:   ctx.Int("preserve-fds"),
		IgnorePaused:  ctx.Bool("ignore-paused"),
	}
	if cg := ctx.StringSlice("cgroup"); len(cg) > 0 {
		opts.SubCgroup = cg[len(cg)-1]
	}
	if f := ctx.String("pid-file"); f != "" {
		if opts.PidFile, err = filepath.Abs(f); err != nil {
			return err
		}
	}
	p, err := c.Exec(proc, opts)
	if err != nil {
		return err
	}
	if s := ctx.String("pidfd-socket"); s != "" {
		if err := sendPidfd(s, p.Pid); err != nil {
			_ = p.Signal(unix.SIGKILL)
			return err
		}
	}
	if detach {
		return nil
	}
	code, err := waitForeground(p)
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// execProcess builds the process to exec: from --process, or from the
// container's own process with the command line's overrides, as runc does.
func execProcess(ctx *cli.Context, c *libbarco.Container) (*configs.Process, error) {
	if path := ctx.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		var sp specs.Process
		if err := json.Unmarshal(data, &sp); err != nil {
			return nil, fmt.Errorf("--process %s: invalid JSON: %w", path, err)
		}
		return specconv.ConvertProcess(&sp)
	}
	if ctx.NArg() < 2 {
		return nil, fmt.Errorf("exec: no command given; usage: barco exec %s", ctx.Command.ArgsUsage)
	}
	proc, err := c.ProcessConfig()
	if err != nil {
		return nil, err
	}
	p := *proc
	p.Args = ctx.Args().Slice()[1:]
	p.Terminal = ctx.Bool("tty")
	p.ConsoleHeight, p.ConsoleWidth = 0, 0
	for _, kv := range ctx.StringSlice("env") {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("--env %q: must be NAME=VALUE", kv)
		}
		p.Env = setEnv(p.Env, kv)
	}
	if cwd := ctx.String("cwd"); cwd != "" {
		if !filepath.IsAbs(cwd) {
			return nil, fmt.Errorf("--cwd %q: must be absolute", cwd)
		}
		p.Cwd = cwd
	}
	if u := ctx.String("user"); u != "" {
		uid, gid, err := parseUser(u)
		if err != nil {
			return nil, err
		}
		p.UID, p.GID = uid, gid
	}
	if gids := ctx.Int64Slice("additional-gids"); len(gids) > 0 {
		p.AdditionalGids = nil
		for _, g := range gids {
			if g < 0 || g > 1<<32-1 {
				return nil, fmt.Errorf("--additional-gids %d: out of range", g)
			}
			p.AdditionalGids = append(p.AdditionalGids, uint32(g))
		}
	}
	if ctx.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if a := ctx.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	if l := ctx.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if added := ctx.StringSlice("cap"); len(added) > 0 {
		if err := addCaps(&p, added); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

func setEnv(env []string, kv string) []string {
	name, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if strings.HasPrefix(e, name+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

func parseUser(u string) (uid, gid uint32, err error) {
	us, gs, hasGid := strings.Cut(u, ":")
	id, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: uid must be a number", u)
	}
	uid = uint32(id)
	if hasGid {
		id, err := strconv.ParseUint(gs, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("--user %q: gid must be a number", u)
		}
		gid = uint32(id)
	}
	return uid, gid, nil
}

// addCaps adds --cap capabilities to the bounding, effective and permitted
// sets (and ambient ones stay as configured), as runc does.
func addCaps(p *configs.Process, added []string) error {
	known := map[string]bool{}
	for _, n := range caps.Known() {
		known[n] = true
	}
	if p.Capabilities == nil {
		p.Capabilities = &configs.Capabilities{}
	}
	pc := p.Capabilities
	for _, c := range added {
		name := strings.ToLower(strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
		if !known[name] {
			return fmt.Errorf("--cap: unknown capability %q", c)
		}
		pc.Bounding = append(pc.Bounding, name)
		pc.Effective = append(pc.Effective, name)
		pc.Permitted = append(pc.Permitted, name)
	}
	return nil
}

// waitForeground forwards signals and the terminal to an exec'd process
// and returns its exit code.
func waitForeground(p *libbarco.Process) (int, error) {
	relay, err := sigrelay.Start()
	if err != nil {
		return -1, err
	}
	defer relay.Stop()
	var ttyDone <-chan struct{}
	if p.Console != nil {
		done, restore := console.Proxy(p.Console, os.Stdin, proxyStdout())
		defer restore()
		ttyDone = done
	}
	exited := make(chan struct{})
	var code int
	var werr error
	go func() {
		code, werr = p.Wait()
		close(exited)
	}()
	for {
		select {
		case sig := <-relay.C:
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
			case unix.SIGWINCH:
				if p.Console != nil {
					console.ResizeFrom(p.Console, os.Stdin)
				}
			default:
				_ = p.Signal(sig)
			}
		case <-exited:
			if ttyDone != nil {
				<-ttyDone
			}
			return code, werr
		}
	}
}

// sendPidfd sends a pidfd of pid to the unix socket at path (runc's
// --pidfd-socket).
func sendPidfd(path string, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	conn, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	sock := os.NewFile(uintptr(conn), "pidfd-socket")
	defer sock.Close()
	if err := unix.Connect(conn, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("pidfd socket %s: %w", path, err)
	}
	return console.SendFd(sock, f)
}
