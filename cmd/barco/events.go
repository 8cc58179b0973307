package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco"
)

// event is one line of `events` output, in runc's shape.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

func eventsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "display container events such as OOM notifications and cpu, memory, and IO usage statistics",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
			&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
		},
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 1); err != nil {
				return err
			}
			interval := ctx.Duration("interval")
			if interval <= 0 {
				return fmt.Errorf("--interval %s: must be positive", interval)
			}
			c, err := g.loadContainer(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			enc := json.NewEncoder(os.Stdout)
			if ctx.Bool("stats") {
				st, err := c.Stats()
				if err != nil {
					return err
				}
				return enc.Encode(event{Type: "stats", ID: c.ID, Data: st})
			}
			return streamEvents(c, enc, interval)
		},
	}
}

// streamEvents prints stats every interval and an "oom" event whenever the
// kernel OOM-killed a process of the container, until the container stops.
func streamEvents(c *libbarco.Container, enc *json.Encoder, interval time.Duration) error {
	// Unlike the other commands this one may run for days.
	debug.SetGCPercent(100)
	ooms := func() uint64 {
		ev, err := c.MemoryEvents()
		if err != nil {
			return 0
		}
		return ev["oom_kill"]
	}
	seen := ooms()
	// OOM kills are checked more often than stats are printed.
	poll := min(interval, 200*time.Millisecond)
	next := time.Now()
	for {
		if now := ooms(); now > seen {
			seen = now
			if err := enc.Encode(event{Type: "oom", ID: c.ID}); err != nil {
				return err
			}
		}
		if !time.Now().Before(next) {
			st, err := c.Stats()
			if errors.Is(err, libbarco.ErrNotRunning) || errors.Is(err, libbarco.ErrNoCgroup) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := enc.Encode(event{Type: "stats", ID: c.ID, Data: st}); err != nil {
				return err
			}
			next = time.Now().Add(interval)
		}
		time.Sleep(poll)
	}
}
