package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/barco-oci/barco/libbarco/cgroups"
)

// parseUpdateFlags parses args with the flags of `barco update` and returns
// the context its action would see.
func parseUpdateFlags(t *testing.T, args []string) (*cli.Context, error) {
	t.Helper()
	cmd := updateCommand(&globals{})
	set := flag.NewFlagSet("update", flag.ContinueOnError)
	set.SetOutput(nopWriter{})
	for _, f := range cmd.Flags {
		if err := f.Apply(set); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Parse(args); err != nil {
		return nil, err
	}
	ctx := cli.NewContext(&cli.App{}, set, nil)
	ctx.Command = cmd
	return ctx, nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// FuzzUpdateResources drives the --resources JSON and the size and number
// flags of `barco update` with arbitrary input, as a container engine would
// pass them through. The parser must return, never panic; what it accepts
// must be a resources value the cgroup code can take, with the flags laid
// over the JSON.
func FuzzUpdateResources(f *testing.F) {
	f.Add([]byte(`{"memory":{"limit":67108864},"cpu":{"shares":512,"quota":50000,"period":100000},"pids":{"limit":100}}`), "", "", "")
	f.Add([]byte(`{}`), "64m", "25000", "-1")
	file := filepath.Join(f.TempDir(), "resources.json")
	f.Fuzz(func(t *testing.T, data []byte, memory, cpuQuota, pidsLimit string) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"--resources", file}
		for _, fl := range []struct{ name, v string }{{"memory", memory}, {"cpu-quota", cpuQuota}, {"pids-limit", pidsLimit}} {
			if fl.v != "" {
				args = append(args, "--"+fl.name+"="+fl.v)
			}
		}
		ctx, err := parseUpdateFlags(t, args)
		if err != nil {
			return
		}
		r, err := updateResources(ctx)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--") {
				t.Fatalf("error does not name the flag: %v", err)
			}
			return
		}
		if r == nil {
			t.Fatal("updateResources returned neither resources nor an error")
		}
		// The JSON alone must parse the same way, so the flags only add.
		var fromJSON specs.LinuxResources
		if err := json.Unmarshal(data, &fromJSON); err != nil {
			t.Fatalf("updateResources accepted JSON that encoding/json refuses: %v", err)
		}
		if memory != "" {
			n, err := parseBytes(memory)
			if err != nil {
				t.Fatalf("--memory %q accepted by update but not by parseBytes", memory)
			}
			if r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit != n {
				t.Fatalf("--memory %q not applied: %+v", memory, r.Memory)
			}
			if n < -1 {
				t.Fatalf("--memory %q gives the limit %d, below -1 (unlimited)", memory, n)
			}
		} else if !reflect.DeepEqual(r.Memory, fromJSON.Memory) {
			t.Fatalf("memory changed without --memory: %+v, JSON says %+v", r.Memory, fromJSON.Memory)
		}
		// What the cgroup code derives from the resources must not panic
		// either; refusing them is fine.
		_, _ = cgroups.RequiredControllers(r)
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("accepted resources do not encode: %v", err)
		}
	})
}

// FuzzParseBytes: a size runc's flags accept is -1 (unlimited) or a
// non-negative byte count; anything else must be an error, never a
// negative or wrapped-around limit.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"1024", "64m", "1.5g", "2GiB", "-1", "-5", "lots", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			return
		}
		if n < -1 || (n == -1 && s != "-1") {
			t.Fatalf("parseBytes(%q) = %d", s, n)
		}
	})
}
