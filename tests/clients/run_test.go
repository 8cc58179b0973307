package clients

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/barco-oci/barco/tests/internal/runcmd"
)

// commandTimeout bounds every client command; a hung one is killed.
const commandTimeout = 90 * time.Second

// result is what a finished command left behind.
type result struct {
	cmd    string
	stdout string
	stderr string
	code   int // exit code; 128+N if killed by signal N, -1 if it did not run
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", r.cmd, r.code, r.stdout, r.stderr)
}

// invocation is one client command.
type invocation struct {
	argv    []string
	env     []string // added to the test binary's environment
	stdin   io.Reader
	timeout time.Duration
	// stdio, if set, is the command's stdin, stdout and stderr (a pty),
	// which then becomes its controlling terminal.
	stdio *os.File
}

// run runs inv to completion. Output goes to files, not pipes: a container
// or a daemon the command starts may inherit its stdio and outlive it, and
// a pipe would then keep Wait blocked.
func (inv invocation) run(t *testing.T) result {
	t.Helper()
	res := result{cmd: strings.Join(inv.argv, " "), code: -1}
	stdout, stderr := runcmd.OutputFiles(t)
	timeout := inv.timeout
	if timeout == 0 {
		timeout = commandTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, inv.argv[0], inv.argv[1:]...)
	cmd.Env = append(os.Environ(), inv.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inv.stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if inv.stdio != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = inv.stdio, inv.stdio, inv.stdio
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	// A timed-out client is killed with everything in its process group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := env.reaper.Start(cmd); err != nil {
		res.stderr = err.Error()
		return res
	}
	err := env.reaper.Wait(cmd)
	res.stdout = readFile(stdout.Name())
	res.stderr = readFile(stderr.Name())
	var exit *exec.ExitError
	switch {
	case err == nil, errors.As(err, &exit):
		res.code = runcmd.ExitCode(cmd.ProcessState)
	default:
		res.stderr += "\n" + err.Error()
	}
	if ctx.Err() != nil {
		res.stderr += fmt.Sprintf("\n(killed after %s)", timeout)
	}
	return res
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// mustSucceed fails the test unless r exited 0.
func mustSucceed(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r
}

// mustExit fails the test unless r exited with code.
func mustExit(t *testing.T, r result, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit code %d\n%v", code, r)
	}
	return r
}

// mustContain fails the test unless r's stdout holds want.
func mustContain(t *testing.T, r result, want string) {
	t.Helper()
	if !strings.Contains(r.stdout, want) {
		t.Fatalf("stdout lacks %q\n%v", want, r)
	}
}

// eventually retries check every 100ms until it returns nil or timeout
// passes, and fails the test with the last error.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// daemon is a long-running program the suite started, such as containerd.
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startDaemon starts argv with its output in logPath.
func startDaemon(argv []string, logPath string) (*daemon, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := env.reaper.Start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	d := &daemon{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { d.done <- env.reaper.Wait(cmd) }()
	return d, nil
}

// exited reports whether the daemon has stopped, and how.
func (d *daemon) exited() (bool, error) {
	select {
	case err := <-d.done:
		d.done <- err
		return true, err
	default:
		return false, nil
	}
}

// stop ends the daemon with SIGTERM, then SIGKILL after a grace period.
func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
}

// tail is the end of a daemon's log, for a failure message.
func (d *daemon) tail(n int) string {
	lines := strings.Split(strings.TrimRight(readFile(d.log), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
