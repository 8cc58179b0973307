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
	if libbarco.IsInit() {
		libbarco.Init()
		return
	}
	if libbarco.IsUsernsHolder() {
		libbarco.HoldUserns()
		return
	}
	os.Exit(run(os.Args))
}

// exitError carries an exit code that is not a failure of barco itself
// (the container process's own code from `run`).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(args []string) int {
	g := &globals{}
	app := newApp(g)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	g.reportError(err)
	return 1
}

func newApp(g *globals) *cli.App {
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
		Commands: []*cli.Command{
			specCommand(),
			createCommand(g),
			startCommand(g),
			runCommand(g),
			stateCommand(g),
			listCommand(g),
			killCommand(g),
			deleteCommand(g),
			featuresCommand(),
			execCommand(g),
			pauseCommand(g),
			resumeCommand(g),
			eventsCommand(g),
			updateCommand(g),
			psCommand(g),
			checkpointCommand(g),
			restoreCommand(g),
		},
	}
}
