// Package runcmd runs a command to completion for the test suites, with
// its output captured and its exit code as a shell reports it.
package runcmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Result is what a finished command left behind.
type Result struct {
	Cmd    string
	Stdout string
	Stderr string
	Code   int // exit code; 128+N if killed by signal N
}

func (r Result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", r.Cmd, r.Code, r.Stdout, r.Stderr)
}

// Starter starts a command and waits for it: the suite's reaper, which
// must not reap it itself.
type Starter interface {
	Start(cmd *exec.Cmd) error
	Wait(cmd *exec.Cmd) error
}

// Run runs name with args under s, stdin as its input unless empty, and
// kills it after timeout; any of that going wrong fails the test. Its
// output goes to files in the test's temporary directory, not pipes (see
// OutputFiles).
func Run(t testing.TB, s Starter, timeout time.Duration, stdin string, name string, args ...string) Result {
	t.Helper()
	res, err := Exec(s, timeout, t.TempDir(), stdin, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Exec is Run without a test, for any goroutine: what goes wrong comes
// back as an error. The output files, "stdout" and "stderr", are made in a
// new directory under dir and stay there: a container the command started
// may still write to them (and tests look at where its stdout points).
func Exec(s Starter, timeout time.Duration, dir, stdin string, name string, args ...string) (Result, error) {
	res := Result{Cmd: strings.Join(append([]string{name}, args...), " ")}
	sub, err := os.MkdirTemp(dir, "cmd-")
	if err != nil {
		return res, err
	}
	var files [2]*os.File
	for i, base := range []string{"stdout", "stderr"} {
		f, err := os.Create(filepath.Join(sub, base))
		if err != nil {
			return res, err
		}
		defer f.Close()
		files[i] = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := s.Start(cmd); err != nil {
		return res, fmt.Errorf("start %s: %w", res.Cmd, err)
	}
	waitErr := s.Wait(cmd)
	out, _ := os.ReadFile(files[0].Name())
	errOut, _ := os.ReadFile(files[1].Name())
	res.Stdout, res.Stderr = string(out), string(errOut)
	res.Code = ExitCode(cmd.ProcessState)
	if ctx.Err() != nil {
		return res, fmt.Errorf("timed out after %v, killed\n%s", timeout, res)
	}
	if cmd.ProcessState == nil {
		return res, fmt.Errorf("wait %s: %w", res.Cmd, waitErr)
	}
	return res, nil
}

// OutputFiles creates the files for a command's stdout and stderr in the
// test's temporary directory; the test's cleanup closes them. Files, not
// pipes (Exec's too): a container the command starts inherits its stdio and may outlive
// it, and a pipe would keep Wait blocked until the container exits.
func OutputFiles(t testing.TB) (stdout, stderr *os.File) {
	t.Helper()
	dir := t.TempDir()
	var files [2]*os.File
	for i, name := range []string{"stdout", "stderr"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files[i] = f
	}
	return files[0], files[1]
}

// ExitCode is ps's exit code as a shell reports it: 128+N for a death by
// signal N, -1 for no state.
func ExitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(unix.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
