package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A created container waits for start in the execstub, a C program that
// never starts a Go runtime (one thread, ~1 MiB), whether barco set it up
// from outside (a plain config, also with a createContainer hook) or
// through the Go init (--no-pivot). A process the stub cannot finish (here
// one with a personality) keeps the Go init, which runs several threads;
// all of them start and run their process.
func TestCreatedInitPaths(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*specs.Spec)
		flags   []string
		oneOnly bool
	}{
		{"from outside", func(*specs.Spec) {}, nil, true},
		{"from outside with a hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}, nil, true},
		{"go init then stub", func(*specs.Spec) {}, []string{"--no-pivot"}, true},
		{"go init", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux}
		}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newRuntime(t).newContainer("sh", "-c", "echo started > /out/done")
			out := t.TempDir()
			c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind", "rw"}})
			tc.edit(c.spec)
			c.save()
			if res := c.create(tc.flags...); res.Code != 0 {
				t.Fatalf("create failed\n%s", res)
			}
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.state().Pid))
			if err != nil {
				t.Fatal(err)
			}
			threads := statusField(t, string(status), "Threads")
			if tc.oneOnly && threads != "1" {
				t.Errorf("the created container's process has %s threads, want 1 (the execstub)", threads)
			}
			if !tc.oneOnly && threads == "1" {
				t.Errorf("the created container's process has one thread, want the Go init")
			}
			c.mustBarco("start", c.id)
			c.waitStatus("stopped")
			if data, err := os.ReadFile(out + "/done"); err != nil || strings.TrimSpace(string(data)) != "started" {
				t.Errorf("the process did not run: %q, %v", data, err)
			}
		})
	}
}
