package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// killPoint says when to kill a create: after a delay, as soon as its
// debug log has a line holding logLine, or as soon as reached says so
// (polled without pause).
type killPoint struct {
	name    string
	delay   time.Duration
	logLine string
	reached func(root, id string) bool
}

// killedCreate starts `barco --debug create` and SIGKILLs it at p. It
// returns once the killed process is reaped, telling whether p was reached
// before create ended on its own.
func killedCreate(t *testing.T, root, bundle, id string, p killPoint) bool {
	t.Helper()
	cmd := exec.Command(env.binary, "--root", root, "--debug", "create", "--bundle", bundle, id)
	// The init inherits stdout; a file does not keep anyone waiting.
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout = out
	var logR, logW *os.File
	if p.logLine != "" {
		if logR, logW, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		defer logR.Close()
		cmd.Stderr = logW
	}
	if err := env.reaper.Start(cmd); err != nil {
		t.Fatal(err)
	}
	reached := true
	switch {
	case p.logLine != "":
		logW.Close()
		found := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(logR)
			for sc.Scan() {
				if strings.Contains(sc.Text(), p.logLine) {
					found <- true
					return
				}
			}
			found <- false
		}()
		select {
		case reached = <-found:
		case <-time.After(commandTimeout):
			t.Errorf("create never logged %q", p.logLine)
		}
	case p.reached != nil:
		deadline := time.Now().Add(commandTimeout)
		for !p.reached(root, id) {
			if time.Now().After(deadline) {
				t.Errorf("create never reached %s", p.name)
				break
			}
		}
	default:
		time.Sleep(p.delay)
	}
	_ = cmd.Process.Kill()
	_ = env.reaper.Wait(cmd)
	return reached
}

// killPoints are the moments of a create worth dying at: its steps as seen
// from outside (state directory, cgroup, the init in the cgroup) and by its
// debug log, and plain delays in between.
func killPoints() []killPoint {
	points := []killPoint{
		{name: "after the state directory", reached: func(root, id string) bool {
			_, err := os.Stat(filepath.Join(root, id))
			return err == nil
		}},
		{name: "after the cgroup", reached: func(_, id string) bool {
			_, err := os.Stat(testCgroupDir(id))
			return err == nil
		}},
		{name: "after the state file", reached: func(root, id string) bool {
			_, err := os.Stat(filepath.Join(root, id, "state.json"))
			return err == nil
		}},
		{name: "after clone", reached: func(_, id string) bool {
			procs, err := os.ReadFile(filepath.Join(testCgroupDir(id), "cgroup.procs"))
			return err == nil && len(procs) > 0
		}},
		{name: "state prepared (log)", logLine: "create: state prepared"},
		{name: "init ready, before the pid is saved (log)", logLine: "create: init ready"},
	}
	for _, ms := range []int{0, 2, 5, 10, 20, 35, 50, 80, 120} {
		points = append(points, killPoint{name: fmt.Sprintf("after %d ms", ms), delay: time.Duration(ms) * time.Millisecond})
	}
	return points
}

// `barco create` killed at every point of its work: meanwhile `list` and
// `state` show the container coherently or not at all, and `delete
// --force` removes every trace of it.
func TestCreateKilled(t *testing.T) {
	r := newRuntime(t)
	rootfs := sharedRootfs(t)
	bundles := t.TempDir()
	killed := 0
	for rep := 0; rep < 2; rep++ {
		for _, p := range killPoints() {
			t.Run(fmt.Sprintf("%d %s", rep, p.name), func(t *testing.T) {
				id := uniqueID(t)
				bundle := lightBundle(t, bundles, rootfs, id, "sleep", "1000")
				if killedCreate(t, r.root, bundle, id, p) {
					killed++
				}
				res := r.barco("list", "--format", "json")
				if err := checkListOutput(res); err != nil {
					t.Error(err)
				}
				if err := checkStateOutput(r.barco("state", id), id); err != nil {
					t.Error(err)
				}
				if res := r.barco("delete", "--force", id); res.Code != 0 {
					t.Errorf("delete --force failed\n%s", res)
				}
				if res := r.barco("state", id); res.Code == 0 || !strings.Contains(res.Stderr, "does not exist") {
					t.Errorf("the container is still there after delete --force\n%s", res)
				}
				assertNothingLeft(t, r.root, id, bundle, id)
				assertNoHiddenLeftovers(t, r.root)
			})
		}
	}
	assertNoStrayChildren(t)
	t.Logf("%d creates killed, each followed by delete --force", killed)
}

// sharedRootEntry names the entries of --root the runtime keeps for all
// containers.
var sharedRootEntry = map[string]bool{".seccomp-cache": true}

// assertNoHiddenLeftovers checks for the runtime's own temporary entries
// in --root (a container directory being built, a state file being
// written) that nobody would ever remove.
func assertNoHiddenLeftovers(t *testing.T, root string) {
	t.Helper()
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && !sharedRootEntry[e.Name()] {
			t.Errorf("--root %s holds the leftover %q", root, e.Name())
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// The init of a created container is killed from the host before `start`:
// start fails and says so, the container is stopped, delete works.
func TestInitDiesBeforeStart(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	out := c.outDir()
	c.spec.Process.Args = []string{"sh", "-c", "echo started > /out/started"}
	if res := c.create(); res.Code != 0 {
		t.Fatalf("create failed\n%s", res)
	}
	st := c.state()
	if err := unix.Kill(st.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("stopped")
	res := c.barco("start", c.id)
	if res.Code == 0 {
		t.Fatalf("start of a container whose init died succeeded\n%s", res)
	}
	if !strings.Contains(res.Stderr, "stopped") && !strings.Contains(res.Stderr, "not running") {
		t.Errorf("start does not say the container is stopped\n%s", res)
	}
	if _, err := os.Stat(filepath.Join(out, "started")); err == nil {
		t.Error("the container's process ran")
	}
	if st := c.state(); st.Status != "stopped" || st.Pid != 0 {
		t.Errorf("state after a failed start: %+v", st)
	}
	c.mustBarco("delete", c.id)
	c.assertNothingLeft()
	assertNoStrayChildren(t)
}

// After the container stopped, its pid belongs to an unrelated process (as
// after pid reuse). state.json is made to say so; the start time recorded
// with the pid tells them apart: the container is stopped, and neither kill
// nor delete may touch the stranger.
func TestPIDReusedByStranger(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, c)
	stateFile := filepath.Join(c.root, c.id, "state.json")
	var saved map[string]any
	readJSON(t, stateFile, &saved)
	c.mustBarco("kill", c.id, "KILL")
	c.waitStatus("stopped")

	stranger := exec.Command("sleep", "1000")
	if err := env.reaper.Start(stranger); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stranger.Process.Kill()
		_ = env.reaper.Wait(stranger)
	})
	saved["pid"] = stranger.Process.Pid
	data, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateFile, data, 0o600); err != nil {
		t.Fatal(err)
	}

	if st := c.state(); st.Status != "stopped" || st.Pid != 0 {
		t.Errorf("state with a reused pid: %+v, want stopped with pid 0", st)
	}
	for _, args := range [][]string{{"kill", c.id, "KILL"}, {"kill", c.id, "TERM"}} {
		res := c.barco(args...)
		if res.Code == 0 {
			t.Errorf("%v on a stopped container succeeded\n%s", args, res)
		}
		assertAlive(t, stranger.Process.Pid)
	}
	// --all signals the container's cgroup, which is empty now; like runc
	// it may report success, but must not reach the stranger.
	c.barco("kill", "--all", c.id, "KILL")
	assertAlive(t, stranger.Process.Pid)
	if res := c.barco("pause", c.id); res.Code == 0 {
		t.Errorf("pause of a stopped container succeeded\n%s", res)
	}
	assertAlive(t, stranger.Process.Pid)
	c.mustBarco("delete", c.id)
	assertAlive(t, stranger.Process.Pid)
	c.assertNothingLeft()
}

func assertAlive(t *testing.T, pid int) {
	t.Helper()
	time.Sleep(50 * time.Millisecond) // a signal is delivered asynchronously
	_, st, err := procState(pid)
	if err != nil || st == "Z" || st == "T" {
		t.Fatalf("the unrelated process %d was signalled: state %q, %v", pid, st, err)
	}
}

func procState(pid int) (string, string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", err
	}
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if i < 0 || len(f) == 0 {
		return "", "", errors.New("unparsable stat")
	}
	return string(data), f[0], nil
}

// --root on a full filesystem: create fails with a clear error at whatever
// step runs out of space, and leaves nothing that breaks `list` or needs
// cleaning. Space is freed one page at a time until a create fits.
func TestFullDiskWhileWritingState(t *testing.T) {
	requireEnv(t)
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64k,mode=0700"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(root, unix.MNT_DETACH) })
	filler := filepath.Join(root, ".filler")
	fill := fillFilesystem(t, filler)

	r := &runtime{t: t, root: root}
	rootfs := sharedRootfs(t)
	bundles := t.TempDir()
	page := int64(os.Getpagesize())
	for step := 0; step < 16; step++ {
		id := fmt.Sprintf("%s-%d", uniqueID(t), step)
		bundle := lightBundle(t, bundles, rootfs, id, "sleep", "1000")
		res := r.barco("create", "--bundle", bundle, id)
		if res.Code == 0 {
			t.Logf("create fits with %d bytes free", int64(step)*page)
			r.mustBarco("delete", "--force", id)
			assertNothingLeft(t, root, id, bundle, id)
			if step == 0 {
				t.Error("create succeeded on a full filesystem")
			}
			break
		}
		assertContains(t, "create stderr", res.Stderr, "no space left on device")
		if err := checkListOutput(r.barco("list", "--format", "json")); err != nil {
			t.Error(err)
		}
		if res := r.barco("state", id); res.Code == 0 || !strings.Contains(res.Stderr, "does not exist") {
			t.Errorf("state after a failed create\n%s", res)
		}
		assertNothingLeft(t, root, id, bundle, id)
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if e.Name() != ".filler" && !sharedRootEntry[e.Name()] {
				t.Errorf("a failed create left %q in --root", e.Name())
			}
		}
		fill -= page
		if err := os.Truncate(filler, fill); err != nil {
			t.Fatal(err)
		}
	}
	assertNoStrayChildren(t)
}

// fillFilesystem writes path until the filesystem is full and returns the
// size written.
func fillFilesystem(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, unix.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
