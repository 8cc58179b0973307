package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func updateCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "update container resource constraints",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "path to the file containing the resources to update or '-' to read from the standard input"},
			&cli.StringFlag{Name: "blkio-weight", Usage: "specifies per cgroup weight, range is from 10 to 1000"},
			&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period to be used for hardcapping (in usecs)"},
			&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
			&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS hardcap burst limit (in usecs)"},
			&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight vs. other containers)"},
			&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period to be used for hardcapping (in usecs)"},
			&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime hardcap limit (in usecs)"},
			&cli.StringFlag{Name: "cpu-idle", Usage: "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "memory node(s) to use"},
			&cli.StringFlag{Name: "memory", Usage: "memory limit (in bytes)"},
			&cli.StringFlag{Name: "memory-reservation", Usage: "memory reservation or soft_limit (in bytes)"},
			&cli.StringFlag{Name: "memory-swap", Usage: "total memory usage (memory + swap); set '-1' to enable unlimited swap"},
			&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of pids allowed in the container"},
		},
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1, 1); err != nil {
				return err
			}
			r, err := updateResources(ctx)
			if err != nil {
				return err
			}
			c, err := g.loadContainer(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Lock(); err != nil {
				return err
			}
			return c.Update(r)
		},
	}
}

// updateResources reads --resources (JSON LinuxResources, as containerd and
// podman send it) and lays the individual flags over it.
func updateResources(ctx *cli.Context) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if src := ctx.String("resources"); src != "" {
		var data []byte
		var err error
		if src == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(src)
		}
		if err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		if err := parseResourcesJSON(data, r); err != nil {
			return nil, err
		}
	}
	set := func(name string, f func(string) error) error {
		if !ctx.IsSet(name) {
			return nil
		}
		if err := f(ctx.String(name)); err != nil {
			return fmt.Errorf("--%s %q: %w", name, ctx.String(name), err)
		}
		return nil
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	steps := []struct {
		name string
		f    func(string) error
	}{
		{"blkio-weight", func(v string) error {
			n, err := strconv.ParseUint(v, 10, 16)
			if err == nil {
				w := uint16(n)
				if r.BlockIO == nil {
					r.BlockIO = &specs.LinuxBlockIO{}
				}
				r.BlockIO.Weight = &w
			}
			return err
		}},
		{"cpu-period", uintField(func(n uint64) { cpu().Period = &n })},
		{"cpu-quota", intField(func(n int64) { cpu().Quota = &n })},
		{"cpu-burst", uintField(func(n uint64) { cpu().Burst = &n })},
		{"cpu-share", uintField(func(n uint64) { cpu().Shares = &n })},
		{"cpu-rt-period", uintField(func(n uint64) { cpu().RealtimePeriod = &n })},
		{"cpu-rt-runtime", intField(func(n int64) { cpu().RealtimeRuntime = &n })},
		{"cpu-idle", intField(func(n int64) { cpu().Idle = &n })},
		{"cpuset-cpus", func(v string) error { cpu().Cpus = v; return nil }},
		{"cpuset-mems", func(v string) error { cpu().Mems = v; return nil }},
		{"memory", bytesField(func(n int64) { mem().Limit = &n })},
		{"memory-reservation", bytesField(func(n int64) { mem().Reservation = &n })},
		{"memory-swap", bytesField(func(n int64) { mem().Swap = &n })},
		{"pids-limit", intField(func(n int64) { r.Pids = &specs.LinuxPids{Limit: &n} })},
	}
	for _, s := range steps {
		if err := set(s.name, s.f); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// parseResourcesJSON decodes the LinuxResources JSON of --resources.
func parseResourcesJSON(data []byte, r *specs.LinuxResources) error {
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("--resources: invalid JSON: %w", err)
	}
	return nil
}

func uintField(set func(uint64)) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err == nil {
			set(n)
		}
		return err
	}
}

func intField(set func(int64)) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			set(n)
		}
		return err
	}
}

func bytesField(set func(int64)) func(string) error {
	return func(v string) error {
		n, err := parseBytes(v)
		if err == nil {
			set(n)
		}
		return err
	}
}

// parseBytes reads a size such as "64m", "1.5g", "1024" or "-1"
// (unlimited), with binary units as runc accepts them.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := float64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		case 'p':
			mult = 1 << 50
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("not a size in bytes")
	}
	if f*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("size out of range")
	}
	return int64(f * mult), nil
}
