package cgroupv2

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A process allocating more than the memory limit is OOM-killed, and `run`
// reports it as death by SIGKILL. The same allocation below the limit
// succeeds, so the kill is the limit's doing.
func TestMemoryLimitOOMKills(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alloc string // dd's block size: the buffer it allocates and fills
		want  int
	}{
		{"below-limit", "8M", 0},
		{"above-limit", "128M", 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t, "dd", "if=/dev/zero", "of=/dev/null", "bs="+tc.alloc, "count=1")
			// swap = limit: no swap on top, so the limit cannot be escaped.
			c.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr[int64](32 * mib), Swap: ptr[int64](32 * mib)}
			if res := c.run(); res.Code != tc.want {
				t.Fatalf("dd bs=%s under a 32M limit: exit %d, want %d\n%s", tc.alloc, res.Code, tc.want, res)
			}
		})
	}
}

// With pids.max reached, fork fails inside the container.
func TestPidsLimitRefusesFork(t *testing.T) {
	const limit = 8
	c := newContainer(t, "sh", "-c", `i=0; while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); echo $i; done`)
	c.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr[int64](limit)}
	res := c.run()
	if res.Code == 0 || !strings.Contains(res.Stderr, "fork") {
		t.Fatalf("20 background sleeps under pids.max=%d: want a failed fork\n%s", limit, res)
	}
	lines := strings.Fields(res.Stdout)
	if len(lines) == 0 {
		t.Fatalf("no process could be forked\n%s", res)
	}
	// The shell itself takes one of the pids.
	if n, err := strconv.Atoi(lines[len(lines)-1]); err != nil || n >= limit {
		t.Errorf("forked %q processes under pids.max=%d\n%s", lines[len(lines)-1], limit, res)
	}
}

// startSleeper creates and starts a container that sleeps, and returns its
// cgroup directory.
func startSleeper(t *testing.T, c *container) string {
	t.Helper()
	c.create()
	c.must("start", c.id)
	c.waitStatus("running")
	return c.cgroupDir()
}

// TestUpdate changes the limits of a running container, one flag after the
// other, and reads them back from the cgroup.
func TestUpdate(t *testing.T) {
	c := newContainer(t, "sleep", "1000")
	c.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr[int64](32 * mib)}
	c.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr[int64](50)}
	dir := startSleeper(t, c)
	steps := []struct {
		name  string
		stdin string
		args  []string
		want  map[string]string
	}{
		// Plain bytes: unit suffixes are a CLI nicety not every runtime has.
		{"memory", "", []string{"--memory", itoa(64 * mib)}, map[string]string{"memory.max": itoa(64 * mib)}},
		{"memory=-1", "", []string{"--memory", "-1"}, map[string]string{"memory.max": "max"}},
		{"pids-limit", "", []string{"--pids-limit", "20"}, map[string]string{"pids.max": "20"}},
		{
			"resources-stdin",
			`{"memory": {"limit": 50331648}, "pids": {"limit": 15}, "cpu": {"shares": 2048}}`,
			[]string{"--resources", "-"},
			map[string]string{"memory.max": "50331648", "pids.max": "15", "cpu.weight": utoa(cpuWeight(2048))},
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			args := append(append([]string{"update"}, s.args...), c.id)
			if res := c.runtimeStdin(s.stdin, args...); res.Code != 0 {
				t.Fatalf("update failed (controllers of the container's cgroup: %s)\n%s", controllers(dir), res)
			}
			for file, want := range s.want {
				expectFile(t, dir, file, want)
			}
		})
	}
	if s := c.state(); s.Status != "running" {
		t.Errorf("status after the updates: %q", s.Status)
	}
}

func TestPauseResume(t *testing.T) {
	c := newContainer(t, "sleep", "1000")
	dir := startSleeper(t, c)
	c.must("pause", c.id)
	if s := c.state(); s.Status != "paused" {
		t.Errorf("status after pause: %q", s.Status)
	}
	expectFile(t, dir, "cgroup.freeze", "1")
	if err := eventually(10*time.Second, func() error { return eventsField(dir, "frozen", "1") }); err != nil {
		t.Errorf("cgroup.events after pause: %v", err)
	}
	c.must("resume", c.id)
	if s := c.state(); s.Status != "running" {
		t.Errorf("status after resume: %q", s.Status)
	}
	expectFile(t, dir, "cgroup.freeze", "0")
	if err := eventually(10*time.Second, func() error { return eventsField(dir, "frozen", "0") }); err != nil {
		t.Errorf("cgroup.events after resume: %v", err)
	}
}

// eventsField checks one "key value" line of cgroup.events.
func eventsField(dir, key, want string) error {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			if f[1] != want {
				return errors.New(key + " " + f[1] + ", want " + want)
			}
			return nil
		}
	}
	return errors.New("no " + key + " line")
}

// `events --stats` prints one stats event with the container's usage, in
// runc's JSON layout.
func TestEventsStats(t *testing.T) {
	c := newContainer(t, "sleep", "1000")
	dir := startSleeper(t, c)
	res := c.must("events", "--stats", c.id)
	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			Memory struct {
				Usage struct {
					Usage uint64 `json:"usage"`
				} `json:"usage"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
			} `json:"pids"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &ev); err != nil {
		t.Fatalf("events --stats output is not one JSON event: %v\n%s", err, res)
	}
	if ev.Type != "stats" || ev.ID != c.id {
		t.Errorf("event type %q id %q, want stats and %q", ev.Type, ev.ID, c.id)
	}
	if ev.Data.Memory.Usage.Usage == 0 {
		t.Errorf("memory.usage.usage is 0 (controllers of the container's cgroup: %s)\n%s", controllers(dir), res.Stdout)
	}
	if ev.Data.Pids.Current < 1 {
		t.Errorf("pids.current is %d (controllers of the container's cgroup: %s)", ev.Data.Pids.Current, controllers(dir))
	}
}

// controllers lists the controllers a cgroup has, for failure messages: a
// container created without limits still needs memory and pids for its
// stats, and cpu, io and the rest for a later update.
func controllers(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return err.Error()
	}
	return strconv.Quote(strings.TrimSpace(string(data)))
}

// kill --all reaches every process of the cgroup, not only init; delete
// --force then removes the cgroup.
func TestKillAllDeleteForce(t *testing.T) {
	c := newContainer(t, "sh", "-c", "sleep 1000 & sleep 1000 & wait")
	dir := startSleeper(t, c)
	if err := eventually(10*time.Second, func() error { return procsAtLeast(dir, 3) }); err != nil {
		t.Fatalf("container processes: %v", err)
	}
	c.must("kill", "--all", c.id, "KILL")
	if err := eventually(10*time.Second, func() error { return procsAtLeast(dir, 0) }); err != nil {
		t.Errorf("after kill --all: %v", err)
	}
	c.must("delete", "--force", c.id)
	if exists(dir) {
		t.Errorf("cgroup %s still exists after kill --all and delete --force", dir)
	}
}

// procsAtLeast checks cgroup.procs: at least n processes, or none if n is 0.
func procsAtLeast(dir string, n int) error {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	got := len(strings.Fields(string(data)))
	if (n == 0 && got != 0) || got < n {
		return errors.New(strconv.Itoa(got) + " processes in cgroup.procs")
	}
	return nil
}

// delete of a container that has exited removes its cgroup.
func TestDeleteRemovesCgroup(t *testing.T) {
	c := newContainer(t, "true")
	c.create()
	dir := c.cgroupDir()
	c.must("start", c.id)
	c.waitStatus("stopped")
	c.must("delete", c.id)
	if exists(dir) {
		t.Errorf("cgroup %s still exists after delete", dir)
	}
}
