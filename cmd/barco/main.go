// Command barco is a runc-compatible OCI container runtime. This package
// only parses flags and prints results; the work is in libbarco.
//
// Every barco process lives for milliseconds with one P (see main): it
// needs no background goroutine that keeps GOMAXPROCS in step with the
// cgroup's CPU limit.
//
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Set at build time with -ldflags "-X main.version=... -X main.gitCommit=...".
var (
	version   = "0.1.0-dev"
	gitCommit = "unknown"
)

func init() {
	// The container init must keep its main goroutine on the main OS
	// thread: credentials and some namespaces are per thread.
	if libbarco.IsInit() {
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
	}
}

func main() {
	// Every barco process is short-lived (run and exec wait, but allocate
	// little): collecting garbage would cost more than it frees. One P:
	// barco's work is sequential, and more Ps only mean more threads woken
	// and parked.
	startupSettings()
	if libbarco.IsUsernsHolder() {
		// Only holds a namespace open until its parent is done: no heap
		// to map ahead.
		libbarco.HoldUserns()
		return
	}
	if libbarco.IsInit() {
		libbarco.Init()
		return
	}
	os.Exit(run(os.Args))
}

// exitError carries an exit code that is not a failure of barco itself
// (the container process's own code from `run`).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// codedError is a failure of barco that exits with a code of its own
// instead of 1: exec's failures exit 255, as runc's do, so that a caller
// can tell them from the exec'd process's own exit status.
type codedError struct {
	err  error
	code int
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func run(args []string) int {
	g := &globals{}
	app := newApp(g, args)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	g.reportError(err)
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	return 1
}

// newApp builds the CLI for the command line args.
func newApp(g *globals, args []string) *cli.App {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "barco version %s\ncommit: %s\nspec: %s\n", version, gitCommit, specs.Version)
	}
	return &cli.App{
		Name:                   "barco",
		Usage:                  "Open Container Initiative runtime",
		Version:                version,
		UseShortOptionHandling: true,
		Flags:                  g.flags(),
		Before:                 g.setup,
		ExitErrHandler:         func(*cli.Context, error) {},
		Commands:               commands(g, commandName(args)),
	}
}

// commands builds the command called name, or all of them when name is
// none of theirs (help, a typo, no command at all). Each command builds its
// flags, and a barco process lives for one command: building the others
// would cost it allocations and pages of code it never needs.
func commands(g *globals, name string) []*cli.Command {
	all := []struct {
		name  string
		build func() *cli.Command
	}{
		{"spec", specCommand},
		{"create", func() *cli.Command { return createCommand(g) }},
		{"start", func() *cli.Command { return startCommand(g) }},
		{"run", func() *cli.Command { return runCommand(g) }},
		{"state", func() *cli.Command { return stateCommand(g) }},
		{"list", func() *cli.Command { return listCommand(g) }},
		{"kill", func() *cli.Command { return killCommand(g) }},
		{"delete", func() *cli.Command { return deleteCommand(g) }},
		{"features", featuresCommand},
		{"exec", func() *cli.Command { return execCommand(g) }},
		{"pause", func() *cli.Command { return pauseCommand(g) }},
		{"resume", func() *cli.Command { return resumeCommand(g) }},
		{"events", func() *cli.Command { return eventsCommand(g) }},
		{"update", func() *cli.Command { return updateCommand(g) }},
		{"ps", func() *cli.Command { return psCommand(g) }},
		{"checkpoint", func() *cli.Command { return checkpointCommand(g) }},
		{"restore", func() *cli.Command { return restoreCommand(g) }},
	}
	for _, c := range all {
		if c.name == name {
			return []*cli.Command{c.build()}
		}
	}
	cmds := make([]*cli.Command, len(all))
	for i, c := range all {
		cmds[i] = c.build()
	}
	return cmds
}

// globalValueFlags are the global flags that take a value, which may be
// the next argument.
var globalValueFlags = []string{"root", "log", "log-format", "criu", "rootless"}

// commandName finds the command in a command line: the first argument
// that is neither a global flag nor a global flag's value. It returns ""
// when there is none.
func commandName(args []string) string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return ""
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return a
		}
		if name := strings.TrimLeft(a, "-"); !strings.Contains(name, "=") && slices.Contains(globalValueFlags, name) {
			i++ // the flag's value
		}
	}
	return ""
}
