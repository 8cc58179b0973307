// Package hooks runs OCI hooks: programs the runtime calls at fixed points
// of a container's life, with the container's state as JSON on their stdin.
package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

// maxOutput bounds how much of a hook's output is kept for the error
// message: hooks may be chatty, and only the end usually explains a failure.
const maxOutput = 4096

// ioGrace is how long the output of a hook that has exited is still read.
// A hook may leave a helper daemon behind that inherited its stdout or
// stderr; without a bound, barco would wait for that daemon to exit.
const ioGrace = time.Second

// RunAll runs hooks in order and stops at the first error.
func RunAll(kind string, hooks []configs.Hook, st specs.State) error {
	for i, h := range hooks {
		if err := Run(kind, i, h, st); err != nil {
			return err
		}
	}
	return nil
}

// Run runs one hook, the index-th of its kind ("prestart", "poststop", ...),
// with st as JSON on its stdin and exactly h.Env as its environment. With a
// timeout, the hook's whole process group is killed when it expires, so
// helpers the hook started die with it.
func Run(kind string, index int, h configs.Hook, st specs.State) error {
	name := fmt.Sprintf("hook %s[%d] %s", kind, index, h.Path)
	input, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s: encode state: %w", name, err)
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	// exec.Cmd gives a nil Env the parent's environment; the spec says the
	// hook gets only what config.json lists.
	env := h.Env
	if env == nil {
		env = []string{}
	}
	stdin, err := stdinFor(input)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if f, ok := stdin.(*os.File); ok {
		defer f.Close()
	}
	var stdout, stderr tail
	cmd := &exec.Cmd{
		Path:        h.Path,
		Args:        args,
		Env:         env,
		Stdin:       stdin,
		Stdout:      &stdout,
		Stderr:      &stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   ioGrace,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	timedOut, err := waitExit(cmd.Process.Pid, time.Duration(h.Timeout)*time.Second)
	waitErr := cmd.Wait()
	switch {
	case err != nil:
		return fmt.Errorf("%s: wait: %w", name, err)
	case timedOut:
		return fmt.Errorf("%s: timed out after %ds", name, h.Timeout)
	case waitErr == nil, errors.Is(waitErr, exec.ErrWaitDelay):
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return fmt.Errorf("%s: %w", name, waitErr)
	}
	msg := stderr.String()
	if msg == "" {
		// Many hook scripts report their errors on stdout.
		msg = stdout.String()
	}
	if msg == "" {
		return fmt.Errorf("%s: %s", name, exitReason(ee))
	}
	return fmt.Errorf("%s: %s: %s", name, exitReason(ee), msg)
}

// stdinFor returns a hook's stdin: the read end of a pipe that already
// holds input, its write end closed. The hook then reads its input without
// waiting for a goroutine of barco's to copy it, which with one P may have
// to wait until the runtime takes the P back from the goroutine blocked in
// waitid. Input larger than the pipe's buffer is copied by exec.Cmd.
func stdinFor(input []byte) (io.Reader, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	r := os.NewFile(uintptr(p[0]), "hook stdin")
	defer unix.Close(p[1])
	size, err := unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0)
	if err != nil || len(input) > size {
		r.Close()
		return bytes.NewReader(input), nil
	}
	for off := 0; off < len(input); {
		n, err := unix.Write(p[1], input[off:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("write stdin pipe: %w", err)
		}
		off += n
	}
	return r, nil
}

// waitExit waits until the process pid has exited, without reaping it, or
// until timeout (0: none) has passed, in which case it kills the process
// group and reports timedOut. Leaving the process unreaped keeps its pid,
// and so its process group id, from being reused by an unrelated process
// before the group is killed.
func waitExit(pid int, timeout time.Duration) (timedOut bool, err error) {
	exited := make(chan error, 1)
	go func() {
		for {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				exited <- err
				return
			}
		}
	}()
	if timeout <= 0 {
		return false, <-exited
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-exited:
		return false, err
	case <-timer.C:
		if err := unix.Kill(-pid, unix.SIGKILL); err != nil {
			return true, fmt.Errorf("kill process group %d: %w", pid, err)
		}
		return true, <-exited
	}
}

// exitReason describes how a hook ended: "exit status N" or the signal
// that killed it.
func exitReason(ee *exec.ExitError) string {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ee.ExitCode())
}

// tail is an io.Writer that keeps only the last maxOutput bytes written.
type tail struct {
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= maxOutput {
		t.buf = append(t.buf[:0], p[len(p)-maxOutput:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - maxOutput; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the kept output without surrounding white space.
func (t *tail) String() string {
	return strings.TrimSpace(string(t.buf))
}
