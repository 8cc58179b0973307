package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/state"
)

func listCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "lists containers started by barco with the given root",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
		},
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 0, 0); err != nil {
				return err
			}
			format := ctx.String("format")
			if format != "table" && format != "json" {
				return fmt.Errorf("invalid format option %q: must be table or json", format)
			}
			states, err := listStates(g)
			if err != nil {
				return err
			}
			if format == "json" && !ctx.Bool("quiet") {
				return json.NewEncoder(os.Stdout).Encode(states)
			}
			// One write for the whole listing (tabwriter writes every
			// cell and every run of padding separately).
			out := bufio.NewWriter(os.Stdout)
			if ctx.Bool("quiet") {
				for _, s := range states {
					fmt.Fprintln(out, s.ID)
				}
				return out.Flush()
			}
			w := tabwriter.NewWriter(out, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return out.Flush()
		},
	}
}

// listStates returns the state of every container; one removed or still
// being created while we look is skipped.
func listStates(g *globals) ([]state.OCIState, error) {
	rt, err := g.runtime()
	if err != nil {
		return nil, err
	}
	ids, err := rt.Store.List()
	if err != nil {
		return nil, err
	}
	states := []state.OCIState{}
	for _, id := range ids {
		c, err := rt.Load(id)
		if errors.Is(err, state.ErrNotExist) || errors.Is(err, state.ErrNotCreated) {
			continue
		}
		if err != nil {
			return nil, err
		}
		states = append(states, c.State())
		c.Close()
	}
	return states, nil
}
