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

func TestLifecycle(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	pidFile := filepath.Join(t.TempDir(), "pid")

	if res := c.create("--pid-file", pidFile); res.Code != 0 {
		t.Fatalf("create failed\n%s", res)
	}
	st := c.state()
	if st.Status != "created" {
		t.Errorf("status after create %q, want created", st.Status)
	}
	if st.ID != c.id || st.Bundle != c.bundle || st.OCIVersion == "" {
		t.Errorf("state %+v does not describe container %s in %s", st, c.id, c.bundle)
	}
	if st.Pid <= 0 {
		t.Fatalf("state pid %d after create", st.Pid)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err != nil {
		t.Errorf("container process %d: %v", st.Pid, err)
	}
	if time.Since(st.Created) > time.Minute || time.Until(st.Created) > time.Minute {
		t.Errorf("created time %v is not now", st.Created)
	}
	if data, err := os.ReadFile(pidFile); err != nil {
		t.Errorf("pid file: %v", err)
	} else if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err != nil || pid != st.Pid {
		t.Errorf("pid file holds %q, state says %d", data, st.Pid)
	}

	c.mustBarco("start", c.id)
	if st := c.state(); st.Status != "running" {
		t.Errorf("status after start %q, want running", st.Status)
	}
	if res := c.barco("start", c.id); res.Code == 0 {
		t.Errorf("starting a running container succeeded\n%s", res)
	}

	c.mustBarco("kill", c.id, "KILL")
	c.waitStatus("stopped")

	c.mustBarco("delete", c.id)
	res := c.barco("state", c.id)
	if res.Code == 0 {
		t.Fatalf("state after delete succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, fmt.Sprintf("container %q does not exist", c.id))
	c.assertNothingLeft()
}

// trapScript reports which signal it got by writing its name to /out and
// exiting; it runs as PID 1, which only receives signals it handles.
const trapScript = `
for sig in TERM USR1 HUP; do trap "echo $sig > /out/got; exit 0" $sig; done
echo ready > /out/ready
while :; do sleep 0.1; done`

func TestKillSignals(t *testing.T) {
	tests := []struct {
		signal string
		want   string
	}{
		{"TERM", "TERM"},
		{"SIGTERM", "TERM"},
		{"15", "TERM"},
		{"SIGUSR1", "USR1"},
		{"USR1", "USR1"},
		{"1", "HUP"},
		{"", "TERM"}, // the default signal
	}
	for _, tc := range tests {
		t.Run("signal "+tc.signal, func(t *testing.T) {
			c := newRuntime(t).newContainer("sh", "-c", trapScript)
			out := c.outDir()
			if res := c.run("--detach"); res.Code != 0 {
				t.Fatalf("run --detach failed\n%s", res)
			}
			waitFile(t, filepath.Join(out, "ready"))
			args := []string{"kill", c.id}
			if tc.signal != "" {
				args = append(args, tc.signal)
			}
			c.mustBarco(args...)
			if got := strings.TrimSpace(waitFile(t, filepath.Join(out, "got"))); got != tc.want {
				t.Errorf("container got %s, want %s", got, tc.want)
			}
			c.waitStatus("stopped")
			c.mustBarco("delete", c.id)
		})
	}
}

// Signal 0 sends nothing: it succeeds while the container runs, leaves it
// running, and fails once the container has stopped.
func TestKillNullSignal(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, c)
	c.mustBarco("kill", c.id, "0")
	c.mustBarco("kill", "--all", c.id, "0")
	if st := c.state(); st.Status != "running" {
		t.Fatalf("status %q after signal 0, want running", st.Status)
	}
	c.mustBarco("kill", c.id, "KILL")
	c.waitStatus("stopped")
	res := c.barco("kill", c.id, "0")
	if res.Code == 0 {
		t.Fatalf("signal 0 to a stopped container succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "not running")
	c.mustBarco("delete", c.id)
	c.assertNothingLeft()
}

func TestKillAll(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "sleep 1000 & sleep 1000 & echo ready > /out/ready; wait")
	out := c.outDir()
	if res := c.run("-d"); res.Code != 0 {
		t.Fatalf("run -d failed\n%s", res)
	}
	waitFile(t, filepath.Join(out, "ready"))
	c.mustBarco("kill", "--all", c.id, "KILL")
	c.waitStatus("stopped")
	c.mustBarco("delete", c.id)
	c.assertNothingLeft()
}

func TestList(t *testing.T) {
	r := newRuntime(t)
	var ids []string
	for range 3 {
		c := r.newContainer("sleep", "1000")
		if res := c.create(); res.Code != 0 {
			t.Fatalf("create failed\n%s", res)
		}
		ids = append(ids, c.id)
	}
	slices.Sort(ids)

	table := r.mustBarco("list").Stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if header := strings.Fields(lines[0]); !slices.Equal(header, []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
		t.Errorf("list header %q", lines[0])
	}
	var rows []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 6 {
			t.Errorf("list row %q does not have 6 columns", l)
			continue
		}
		rows = append(rows, f[0])
		if f[2] != "created" {
			t.Errorf("list row %q: status %q, want created", l, f[2])
		}
	}
	slices.Sort(rows)
	if !slices.Equal(rows, ids) {
		t.Errorf("list shows %v, want %v\n%s", rows, ids, table)
	}

	quiet := strings.Fields(r.mustBarco("list", "-q").Stdout)
	slices.Sort(quiet)
	if !slices.Equal(quiet, ids) {
		t.Errorf("list -q shows %v, want %v", quiet, ids)
	}

	if got := listJSON(t, r); len(got) != 3 {
		t.Errorf("list --format json has %d entries, want 3", len(got))
	} else {
		var jsonIDs []string
		for _, s := range got {
			jsonIDs = append(jsonIDs, s.ID)
			if s.Status != "created" || s.Pid <= 0 {
				t.Errorf("list --format json entry %+v", s)
			}
		}
		slices.Sort(jsonIDs)
		if !slices.Equal(jsonIDs, ids) {
			t.Errorf("list --format json shows %v, want %v", jsonIDs, ids)
		}
	}

	// Like runc, a container that was created but never started can be
	// deleted without --force.
	for _, id := range ids {
		r.mustBarco("delete", id)
	}
	if got := listJSON(t, r); len(got) != 0 {
		t.Errorf("list after delete: %+v", got)
	}
	if q := strings.TrimSpace(r.mustBarco("list", "-q").Stdout); q != "" {
		t.Errorf("list -q after delete: %q", q)
	}
}

// listJSON runs `list --format json`; an empty list may be [] or null.
func listJSON(t *testing.T, r *runtime) []ociState {
	t.Helper()
	res := r.mustBarco("list", "--format", "json")
	var states []ociState
	if err := json.Unmarshal([]byte(res.Stdout), &states); err != nil {
		t.Fatalf("list --format json is not a JSON array: %v\n%s", err, res)
	}
	return states
}

func TestRunDetach(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	if res := c.run("--detach"); res.Code != 0 {
		t.Fatalf("run --detach failed\n%s", res)
	}
	st := c.state()
	if st.Status != "running" || st.Pid <= 0 {
		t.Fatalf("state after run --detach: %+v", st)
	}
	c.mustBarco("kill", c.id, "9")
	c.waitStatus("stopped")
	c.mustBarco("delete", c.id)
	if res := c.barco("state", c.id); res.Code == 0 {
		t.Errorf("state after delete succeeded\n%s", res)
	}
	c.assertNothingLeft()
}

func TestRunKeep(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "exit 0")
	if res := c.run("--keep"); res.Code != 0 {
		t.Fatalf("run --keep failed\n%s", res)
	}
	found := false
	for _, s := range listJSON(t, c.runtime) {
		if s.ID == c.id {
			found = true
			if s.Status != "stopped" {
				t.Errorf("kept container has status %q, want stopped", s.Status)
			}
		}
	}
	if !found {
		t.Fatalf("run --keep: %s not in list", c.id)
	}
	c.mustBarco("delete", c.id)
	if got := listJSON(t, c.runtime); len(got) != 0 {
		t.Errorf("list after delete: %+v", got)
	}
	c.assertNothingLeft()
}
