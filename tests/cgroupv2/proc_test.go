package cgroupv2

import (
	"context"
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

// commandTimeout bounds every runtime command. Under an emulated CPU one
// container start takes seconds, so it is generous.
const commandTimeout = 90 * time.Second

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
	if err := env.reaper.Start(cmd); err != nil {
		t.Fatalf("start %s: %v", res.cmd, err)
	}
	waitErr := env.reaper.Wait(cmd)
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
