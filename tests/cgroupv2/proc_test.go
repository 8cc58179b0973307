package cgroupv2

import (
	"bytes"
	"context"
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

	"golang.org/x/sys/unix"
)

// commandTimeout bounds every runtime command. Under an emulated CPU one
// container start takes seconds, so it is generous.
const commandTimeout = 90 * time.Second

// reaper waits for orphans reparented to the test binary (containers whose
// runtime process has exited), but never for the commands the tests run:
// exec.Cmd.Wait must get their exit status itself.
type reaper struct {
	mu      sync.Mutex
	running map[int]bool // started exec.Cmds not yet waited for
	quit    chan struct{}
	done    chan struct{}
}

func newReaper() *reaper {
	r := &reaper{running: map[int]bool{}, quit: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *reaper) loop() {
	defer close(r.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.quit:
			r.reapZombies()
			return
		case <-tick.C:
			r.reapZombies()
		}
	}
}

func (r *reaper) stop() {
	close(r.quit)
	<-r.done
}

func (r *reaper) reapZombies() {
	// Held while listing and waiting, so a command being started is
	// registered before its PID can be looked at.
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, state := range children() {
		if state == "Z" && !r.running[pid] {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

func (r *reaper) start(cmd *exec.Cmd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.running[cmd.Process.Pid] = true
	return nil
}

func (r *reaper) wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	r.mu.Lock()
	delete(r.running, cmd.Process.Pid)
	r.mu.Unlock()
	return err
}

// untracked lists live children that are not commands being run: container
// processes whose runtime left them behind.
func (r *reaper) untracked() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for pid, state := range children() {
		if state != "Z" && !r.running[pid] {
			out = append(out, pid)
		}
	}
	return out
}

// children maps the PIDs of the test binary's children to their state
// letter. /proc is scanned because /proc/PID/task/TID/children needs
// CONFIG_PROC_CHILDREN.
func children() map[int]string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	out := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, ok := procStat(pid)
		if ok && ppid == self {
			out[pid] = state
		}
	}
	return out
}

// procStat reads the state and parent PID of a process.
func procStat(pid int) (state string, ppid int, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// The command name may hold spaces and parentheses; "state ppid" follow
	// the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}

// result is what a finished command left behind.
type result struct {
	cmd    string
	stdout string
	stderr string
	code   int // exit code; 128+N if killed by signal N
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", r.cmd, r.code, r.stdout, r.stderr)
}

// runCmd runs a command to completion with stdin as its input. Output goes
// to files, not pipes: a container inherits the runtime's stdio and may
// outlive it, and a pipe would keep Wait blocked until the container exits.
func runCmd(t *testing.T, stdin string, name string, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	res := result{cmd: strings.Join(append([]string{name}, args...), " ")}
	if err := env.reaper.start(cmd); err != nil {
		t.Fatalf("start %s: %v", res.cmd, err)
	}
	waitErr := env.reaper.wait(cmd)
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	res.stdout, res.stderr = string(out), string(errOut)
	if ctx.Err() != nil {
		t.Fatalf("timed out after %v, killed\n%s", commandTimeout, res)
	}
	if cmd.ProcessState == nil {
		t.Fatalf("wait %s: %v", res.cmd, waitErr)
	}
	res.code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(unix.WaitStatus); ok && ws.Signaled() {
		res.code = 128 + int(ws.Signal())
	}
	return res
}

// eventually retries f every 50 ms until it succeeds or the time is up, and
// returns its last error.
func eventually(limit time.Duration, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeCgroup kills every process in a cgroup tree and removes it, deepest
// directories first.
func removeCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	var dirs []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	var lastErr error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := eventually(10*time.Second, func() error { return os.Remove(dirs[i]) }); err != nil {
			lastErr = err
		}
	}
	if lastErr != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, lastErr)
	}
	return nil
}
