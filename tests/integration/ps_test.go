package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPs runs a container with two processes and checks that `ps` shows
// exactly those, in both formats.
func TestPs(t *testing.T) {
	// sh starts one sleep in the background and becomes the other.
	c := newRuntime(t).newContainer("sh", "-c", "sleep 1000 & exec sleep 1001")
	if res := c.run("--detach"); res.Code != 0 {
		t.Fatalf("run --detach failed\n%s", res)
	}
	var want []int
	err := eventually(10*time.Second, func() error {
		want = cgroupPids(t, testCgroupDir(c.cgroup))
		if len(want) != 2 {
			return fmt.Errorf("cgroup holds pids %v, want 2", want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	initPid := c.state().Pid
	if !slices.Contains(want, initPid) {
		t.Fatalf("init pid %d is not in the cgroup %v", initPid, want)
	}

	if got := psJSON(t, c); !slices.Equal(got, want) {
		t.Errorf("ps --format json lists %v, cgroup.procs %v", got, want)
	}

	t.Run("table", func(t *testing.T) {
		rows := psTable(t, "PID", c.mustBarco("ps", c.id).Stdout)
		cmds := map[string]bool{}
		for pid, line := range rows {
			if !slices.Contains(want, pid) {
				t.Errorf("ps shows a process outside the container: %q", line)
			}
			cmds[strings.Join(strings.Fields(line)[7:], " ")] = true
		}
		if len(rows) != 2 || !cmds["sleep 1000"] || !cmds["sleep 1001"] {
			t.Errorf("ps shows %v, want the two sleeps", rows)
		}
	})

	t.Run("ps options", func(t *testing.T) {
		rows := psTable(t, "PID", c.mustBarco("ps", c.id, "-o", "pid,comm").Stdout)
		if len(rows) != 2 {
			t.Errorf("ps -o pid,comm shows %v, want 2 rows", rows)
		}
		for pid, line := range rows {
			if f := strings.Fields(line); !slices.Contains(want, pid) || len(f) != 2 || f[1] != "sleep" {
				t.Errorf("ps -o pid,comm row %q", line)
			}
		}
	})

	t.Run("no PID column", func(t *testing.T) {
		res := c.barco("ps", c.id, "-o", "comm")
		if res.Code == 0 {
			t.Fatalf("ps without a PID column succeeded\n%s", res)
		}
		assertContains(t, "stderr", res.Stderr, "PID column")
	})

	c.mustBarco("delete", "--force", c.id)
	c.assertNothingLeft()
}

// A created container already has its init, waiting for start.
func TestPsCreated(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	if res := c.create(); res.Code != 0 {
		t.Fatalf("create failed\n%s", res)
	}
	if got, want := psJSON(t, c), []int{c.state().Pid}; !slices.Equal(got, want) {
		t.Errorf("ps --format json of a created container lists %v, want %v", got, want)
	}
	c.mustBarco("delete", c.id)
}

func TestPsErrors(t *testing.T) {
	t.Run("unknown container", func(t *testing.T) {
		r := newRuntime(t)
		id := uniqueID(t)
		for _, args := range [][]string{{"ps", id}, {"ps", "--format", "json", id}} {
			res := r.barco(args...)
			if res.Code == 0 {
				t.Fatalf("ps of an unknown container succeeded\n%s", res)
			}
			assertContains(t, "stderr", res.Stderr, fmt.Sprintf("container %q does not exist", id))
		}
	})
	t.Run("stopped container", func(t *testing.T) {
		c := newRuntime(t).newContainer("true")
		if res := c.run("--keep"); res.Code != 0 {
			t.Fatalf("run --keep failed\n%s", res)
		}
		c.waitStatus("stopped")
		for _, args := range [][]string{{"ps", c.id}, {"ps", "--format", "json", c.id}} {
			res := c.barco(args...)
			if res.Code == 0 {
				t.Fatalf("ps of a stopped container succeeded\n%s", res)
			}
			assertContains(t, "stderr", res.Stderr, "not running")
			if res.Stdout != "" {
				t.Errorf("ps of a stopped container printed %q", res.Stdout)
			}
		}
		c.mustBarco("delete", c.id)
	})
	t.Run("bad format", func(t *testing.T) {
		c := newRuntime(t).newContainer("sleep", "1000")
		if res := c.create(); res.Code != 0 {
			t.Fatalf("create failed\n%s", res)
		}
		res := c.barco("ps", "--format", "yaml", c.id)
		if res.Code == 0 {
			t.Fatalf("ps --format yaml succeeded\n%s", res)
		}
		assertContains(t, "stderr", res.Stderr, "yaml")
		c.mustBarco("delete", c.id)
	})
}

// psJSON runs `ps --format json` and parses the array of pids.
func psJSON(t *testing.T, c *container) []int {
	t.Helper()
	res := c.mustBarco("ps", "--format", "json", c.id)
	var pids []int
	if err := json.Unmarshal([]byte(res.Stdout), &pids); err != nil {
		t.Fatalf("ps --format json is not an array of pids: %v\n%s", err, res)
	}
	slices.Sort(pids)
	return pids
}

// psTable checks that ps output starts with a header holding pidCol and
// returns its other lines by pid.
func psTable(t *testing.T, pidCol, out string) map[int]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	col := slices.Index(strings.Fields(lines[0]), pidCol)
	if col < 0 {
		t.Fatalf("ps header %q has no %s column", lines[0], pidCol)
	}
	rows := map[int]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if col >= len(f) {
			t.Errorf("ps line %q is too short", l)
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil {
			t.Errorf("ps line %q: pid %q", l, f[col])
			continue
		}
		rows[pid] = l
	}
	return rows
}

// cgroupPids reads cgroup.procs of a cgroup and its descendants, sorted.
func cgroupPids(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("%s/cgroup.procs: %q", p, f)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	return pids
}
