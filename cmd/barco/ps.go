package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

func psCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "ps displays the processes running inside a container",
		ArgsUsage: "<container-id> [ps options]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
		},
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, -1); err != nil {
				return err
			}
			format := ctx.String("format")
			if format != "table" && format != "json" {
				return fmt.Errorf("invalid format option %q: must be table or json", format)
			}
			c, err := g.loadContainer(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			pids, err := c.Processes()
			if err != nil {
				return err
			}
			if format == "json" {
				// containerd parses this plain array of host pids.
				return json.NewEncoder(os.Stdout).Encode(pids)
			}
			psArgs := ctx.Args().Tail()
			if len(psArgs) > 0 && psArgs[0] == "--" {
				psArgs = psArgs[1:]
			}
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := hostPs(psArgs)
			if err != nil {
				return err
			}
			table, err := filterPsOutput(out, pids)
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(table)
			return err
		},
	}
}

// hostPs runs the host's ps; its pids are host pids, the ones the cgroup
// lists.
func hostPs(args []string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("ps", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ps %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// filterPsOutput keeps the header of ps output and the lines whose PID
// column is one of pids. The column is found by its header, so any ps
// format that shows PID works.
func filterPsOutput(out []byte, pids []int) ([]byte, error) {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, name := range strings.Fields(lines[0]) {
		if name == "PID" {
			col = i
			break
		}
	}
	if col < 0 {
		return nil, errors.New("ps output has no PID column; add -o pid or use a format that shows it")
	}
	want := make(map[int]bool, len(pids))
	for _, p := range pids {
		want[p] = true
	}
	var b bytes.Buffer
	b.WriteString(lines[0] + "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if col >= len(f) {
			continue
		}
		if pid, err := strconv.Atoi(f[col]); err == nil && want[pid] {
			b.WriteString(line + "\n")
		}
	}
	return b.Bytes(), nil
}
