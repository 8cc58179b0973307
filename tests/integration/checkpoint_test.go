package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/barco-oci/barco/libbarco/criu"
)

// counterScript writes an increasing number to /out/count ten times a
// second; a restored counter goes on from where it was, a restarted one
// would begin again at 1. Each number is written beside the file and
// renamed over it: a checkpoint may stop the shell at any instruction, and
// one taken between the truncation and the write of "echo > count" left
// the file empty for good.
const counterScript = `i=0; while true; do i=$((i+1)); echo $i > /out/count.new; mv /out/count.new /out/count; sleep 0.1; done`

var criuCheck struct {
	once sync.Once
	skip string
}

// requireCriu skips the test when criu cannot work on this host, with
// what `criu check` says about it.
func requireCriu(t *testing.T) {
	t.Helper()
	criuCheck.once.Do(func() {
		err := criu.Check("")
		switch {
		case errors.Is(err, criu.ErrNotFound):
			criuCheck.skip = "criu is not installed"
		case err != nil:
			criuCheck.skip = fmt.Sprintf("criu check fails on this kernel: %v", err)
		}
	})
	if criuCheck.skip != "" {
		t.Skip(criuCheck.skip)
	}
}

// readCount returns the counter's current value, waiting for the file to
// appear.
func readCount(t *testing.T, out string) int {
	t.Helper()
	var n int
	err := eventually(5*time.Second, func() error {
		data, err := os.ReadFile(filepath.Join(out, "count"))
		if err != nil {
			return err
		}
		n, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err
	})
	if err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return n
}

// waitCount waits until the counter is above n and returns it.
func waitCount(t *testing.T, out string, n int) int {
	t.Helper()
	var got int
	err := eventually(20*time.Second, func() error {
		got = readCount(t, out)
		if got <= n {
			return fmt.Errorf("counter at %d, waiting for more than %d", got, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// startCounter runs the counter detached and waits for it to count.
func startCounter(t *testing.T, script string) (*container, string) {
	t.Helper()
	requireCriu(t)
	c := newRuntime(t).newContainer("sh", "-c", script)
	out := c.outDir()
	if res := c.run("--detach"); res.Code != 0 {
		t.Fatalf("run --detach\n%s", res)
	}
	c.waitStatus("running")
	waitCount(t, out, 3)
	return c, out
}

func TestCheckpointAndRestore(t *testing.T) {
	c, out := startCounter(t, counterScript)
	images := filepath.Join(t.TempDir(), "images")
	cgroupView := c.mustBarco("exec", c.id, "cat", "/proc/1/cgroup").Stdout
	runStdout := stdoutOf(t, c.state().Pid)

	c.mustBarco("checkpoint", "--image-path", images, c.id)
	c.waitStatus("stopped")
	dumped := readCount(t, out)
	time.Sleep(500 * time.Millisecond)
	if now := readCount(t, out); now != dumped {
		t.Fatalf("counter went on from %d to %d after the checkpoint", dumped, now)
	}
	for _, f := range []string{"dump.log", "descriptors.json", "inventory.img"} {
		if _, err := os.Stat(filepath.Join(images, f)); err != nil {
			t.Errorf("image directory: %v", err)
		}
	}

	// The stopped container still holds its id.
	res := c.barco("restore", "--detach", "--bundle", c.bundle, "--image-path", images, c.id)
	if res.Code == 0 {
		t.Fatalf("restore into an existing id succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "already exists")

	c.mustBarco("delete", c.id)
	c.mustBarco("restore", "--detach", "--bundle", c.bundle, "--image-path", images, c.id)
	st := c.waitStatus("running")
	if st.Pid <= 0 {
		t.Fatalf("restored container has pid %d", st.Pid)
	}
	if !inCgroup(st.Pid, "/"+testCgroupParent+"/"+c.cgroup) {
		t.Errorf("restored init %d is not in the container's cgroup", st.Pid)
	}
	// Every value after the restore continues the count; a fresh start
	// would show 1, 2, ... again.
	for i := 0; i < 5; i++ {
		if n := readCount(t, out); n < dumped {
			t.Fatalf("counter at %d after restore, below the checkpointed %d: restarted, not restored", n, dumped)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitCount(t, out, dumped+5)

	res = c.mustBarco("exec", c.id, "cat", "/proc/1/cmdline")
	assertContains(t, "cmdline of pid 1", res.Stdout, "while true")
	// The cgroup namespace came back with its root at the container's cgroup.
	if got := c.mustBarco("exec", c.id, "cat", "/proc/1/cgroup").Stdout; got != cgroupView {
		t.Errorf("/proc/1/cgroup after restore:\n%s\nbefore checkpoint:\n%s", got, cgroupView)
	}
	// The stdout of `run` was replaced by the stdout of `restore`.
	if got := stdoutOf(t, st.Pid); got == runStdout || filepath.Base(got) != "stdout" {
		t.Errorf("restored init's stdout is %q; want the restore command's, not run's %q", got, runStdout)
	}
}

// stdoutOf returns where a process's fd 1 points.
func stdoutOf(t *testing.T, pid int) string {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", pid))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

func TestPreDumpThenDump(t *testing.T) {
	c, out := startCounter(t, counterScript)
	dir := t.TempDir()
	pre, final := filepath.Join(dir, "pre"), filepath.Join(dir, "final")

	c.mustBarco("checkpoint", "--pre-dump", "--image-path", pre, c.id)
	if s := c.state(); s.Status != "running" {
		t.Fatalf("status %q after --pre-dump, want running", s.Status)
	}
	waitCount(t, out, readCount(t, out)+2)
	// criu takes the parent path relative to the image directory.
	c.mustBarco("checkpoint", "--parent-path", "../pre", "--image-path", final, c.id)
	c.waitStatus("stopped")
	dumped := readCount(t, out)
	c.mustBarco("delete", c.id)
	c.mustBarco("restore", "--detach", "--bundle", c.bundle, "--image-path", final, c.id)
	c.waitStatus("running")
	if n := readCount(t, out); n < dumped {
		t.Fatalf("counter at %d after restore, below the checkpointed %d", n, dumped)
	}
	waitCount(t, out, dumped+3)
}

func TestCheckpointLeaveRunning(t *testing.T) {
	c, out := startCounter(t, counterScript)
	images := filepath.Join(t.TempDir(), "images")
	work := filepath.Join(t.TempDir(), "work")

	c.mustBarco("checkpoint", "--leave-running", "--image-path", images, "--work-path", work, c.id)
	if s := c.state(); s.Status != "running" {
		t.Fatalf("status %q after checkpoint --leave-running, want running", s.Status)
	}
	if _, err := os.Stat(filepath.Join(work, "dump.log")); err != nil {
		t.Errorf("--work-path: %v", err)
	}
	waitCount(t, out, readCount(t, out)+3)
}

func TestRestoreForeground(t *testing.T) {
	c, out := startCounter(t, `i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i > /out/count.new; mv /out/count.new /out/count; sleep 0.1; done; exit 7`)
	images := filepath.Join(t.TempDir(), "images")
	c.mustBarco("checkpoint", "--image-path", images, c.id)
	c.waitStatus("stopped")
	dumped := readCount(t, out)
	if dumped >= 40 {
		t.Skipf("the counter finished before the checkpoint (at %d)", dumped)
	}
	c.mustBarco("delete", c.id)

	res := c.barco("restore", "--bundle", c.bundle, "--image-path", images, c.id)
	if res.Code != 7 {
		t.Fatalf("foreground restore exit code %d, want the container's 7\n%s", res.Code, res)
	}
	if n := readCount(t, out); n != 40 {
		t.Errorf("counter ended at %d, want 40", n)
	}
	// Like run, a foreground restore removes the container it waited for.
	if res := c.barco("state", c.id); res.Code == 0 {
		t.Errorf("container still exists after the foreground restore\n%s", res)
	}
}

// The state checks come before criu is run, so they hold on any host.
func TestCheckpointNotRunning(t *testing.T) {
	c := newRuntime(t).newContainer("true")
	images := filepath.Join(t.TempDir(), "images")

	c.mustBarco("create", "--bundle", c.bundle, c.id)
	res := c.barco("checkpoint", "--image-path", images, c.id)
	if res.Code == 0 {
		t.Fatalf("checkpoint of a created container succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "cannot checkpoint", "created", "not running")

	c.mustBarco("start", c.id)
	c.waitStatus("stopped")
	res = c.barco("checkpoint", "--image-path", images, c.id)
	if res.Code == 0 {
		t.Fatalf("checkpoint of a stopped container succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "stopped", "not running")

	res = c.barco("checkpoint", "--lazy-pages", "--image-path", images, c.id)
	if res.Code == 0 {
		t.Fatalf("checkpoint --lazy-pages succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "--lazy-pages", "not supported")
}

func TestRestoreMissingImage(t *testing.T) {
	c := newRuntime(t).newContainer("true")
	c.save()
	res := c.barco("restore", "--detach", "--bundle", c.bundle, "--image-path", filepath.Join(t.TempDir(), "none"), c.id)
	expectFailure(t, c, res, c.id, "image path", "no such file or directory")
}

func TestRestoreEmptyImage(t *testing.T) {
	requireCriu(t)
	c := newRuntime(t).newContainer("true")
	c.save()
	// criu's own explanation, from its log, is in the error.
	empty := t.TempDir()
	res := c.barco("restore", "--detach", "--bundle", c.bundle, "--image-path", empty, c.id)
	expectFailure(t, c, res, c.id, "criu restore failed", filepath.Join(empty, "restore.log"), "Error (")
}

// barcoToPipe runs barco with its stdout (and so a detached container's)
// on a new pipe, as containerd and podman run it, and returns the read end.
func barcoToPipe(t *testing.T, c *container, args ...string) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	barcoWithStdout(t, c, w, args...)
	w.Close()
	return r
}

// barcoWithStdout runs barco with stdout as its stdout and fails the test
// if it fails.
func barcoWithStdout(t *testing.T, c *container, stdout *os.File, args ...string) {
	t.Helper()
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command(env.binary, append([]string{"--root", c.root}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := env.reaper.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := env.reaper.Wait(cmd); err != nil {
		msg, _ := os.ReadFile(stderr.Name())
		t.Fatalf("barco %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
}

// nextNumber reads lines from r until one parses as a number.
func nextNumber(t *testing.T, r *os.File) int {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var line []byte
	buf := make([]byte, 1)
	for {
		if _, err := r.Read(buf); err != nil {
			t.Fatalf("read the container's stdout: %v", err)
		}
		if buf[0] != '\n' {
			line = append(line, buf[0])
			continue
		}
		if n, err := strconv.Atoi(string(line)); err == nil {
			return n
		}
		line = line[:0]
	}
}

func TestRestoreWithPipes(t *testing.T) {
	restoreCountsOnNewPipe(t, `i=0; while true; do i=$((i+1)); echo $i; echo $i > /out/count.new; mv /out/count.new /out/count; sleep 0.1; done`)
}

// A checkpoint names the init's stdio as it was given, wherever the
// container has moved it since: here the shell keeps its stdout (a pipe)
// and stderr (a file outside the container) on fds 10 and 11 and points 1
// and 2 into the container. Restore gives the new pipe and file in their
// place. Nothing is written to the file: criu restores a file that is not
// opened for appending only if its size is what it was at the dump.
func TestRestoreMovedStdio(t *testing.T) {
	restoreCountsOnNewPipe(t, `exec 10>&1 11>&2 >/out/log 2>&1; i=0; while true; do i=$((i+1)); echo $i >&10; echo $i > /out/count.new; mv /out/count.new /out/count; sleep 0.1; done`)
}

// restoreCountsOnNewPipe runs script, a counter that writes each number to
// the stdout barco was given (a pipe) and to /out/count, checkpoints it
// and restores it with another pipe, on which the numbers must go on.
func restoreCountsOnNewPipe(t *testing.T, script string) {
	t.Helper()
	requireCriu(t)
	c := newRuntime(t).newContainer("sh", "-c", script)
	out := c.outDir()
	c.save()
	before := barcoToPipe(t, c, "run", "--detach", "--bundle", c.bundle, c.id)
	if n := nextNumber(t, before); n < 1 {
		t.Fatalf("first number %d", n)
	}
	images := filepath.Join(t.TempDir(), "images")
	c.mustBarco("checkpoint", "--image-path", images, c.id)
	c.waitStatus("stopped")
	dumped := readCount(t, out)
	c.mustBarco("delete", c.id)

	after := barcoToPipe(t, c, "restore", "--detach", "--bundle", c.bundle, "--image-path", images, c.id)
	n := nextNumber(t, after)
	if n < dumped {
		t.Fatalf("first number on the new pipe is %d, below the checkpointed %d", n, dumped)
	}
	if m := nextNumber(t, after); m != n+1 {
		t.Errorf("numbers on the new pipe go %d, %d; want consecutive", n, m)
	}
}

// A container whose stdout is a file opened for appending (a shell's >>)
// can be restored into another such file, whatever its size: criu checks
// the size of the other files only (see README).
func TestRestoreIntoAppendedFile(t *testing.T) {
	requireCriu(t)
	c := newRuntime(t).newContainer("sh", "-c", `i=0; while true; do i=$((i+1)); echo $i; echo $i > /out/count.new; mv /out/count.new /out/count; sleep 0.1; done`)
	out := c.outDir()
	c.save()
	appended := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(t.TempDir(), name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	before := appended("before")
	barcoWithStdout(t, c, before, "run", "--detach", "--bundle", c.bundle, c.id)
	waitCount(t, out, 3)
	images := filepath.Join(t.TempDir(), "images")
	c.mustBarco("checkpoint", "--image-path", images, c.id)
	c.waitStatus("stopped")
	dumped := readCount(t, out)
	c.mustBarco("delete", c.id)

	after := appended("after")
	barcoWithStdout(t, c, after, "restore", "--detach", "--bundle", c.bundle, "--image-path", images, c.id)
	waitCount(t, out, dumped+2)
	data, err := os.ReadFile(after.Name())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		t.Fatal("the restored counter wrote nothing to the new file")
	}
	if n, err := strconv.Atoi(lines[0]); err != nil || n <= dumped {
		t.Errorf("the new file begins with %q, want a number above the checkpointed %d", lines[0], dumped)
	}
}

// The global --criu names the criu binary: one that is not there fails
// the checkpoint with its path, and the container runs on.
func TestCheckpointCriuFlag(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	if res := c.run("--detach"); res.Code != 0 {
		t.Fatalf("run --detach\n%s", res)
	}
	c.waitStatus("running")
	res := c.barco("--criu", "/nonexistent/criu", "checkpoint", "--image-path", filepath.Join(t.TempDir(), "images"), c.id)
	if res.Code == 0 {
		t.Fatalf("checkpoint with a missing criu succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "/nonexistent/criu", "criu binary not found")
	if s := c.state(); s.Status != "running" {
		t.Errorf("container %s after the failed checkpoint", s.Status)
	}
}
