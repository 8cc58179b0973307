package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/console"
)

// TestConsoleSocket plays the part of containerd: it listens on the
// --console-socket, receives the pty master and talks to the container
// through it.
func TestConsoleSocket(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "read x; echo got:$x; tty; echo tty-status:$?")
	c.spec.Process.Terminal = true
	l := listenConsole(t)
	if res := c.create("--console-socket", l.path); res.Code != 0 {
		t.Fatalf("create --console-socket failed\n%s", res)
	}
	master := l.master(t)
	out := collect(master)
	c.mustBarco("start", c.id)
	if _, err := master.Write([]byte("hello\n")); err != nil {
		t.Fatalf("write to the pty master: %v", err)
	}
	// The terminal turns \n into \r\n on output.
	out.waitFor(t, "got:hello\r\n", "/dev/pts/", "tty-status:0")
	out.waitClosed(t)
	c.waitStatus("stopped")
	c.mustBarco("delete", c.id)
	c.assertNothingLeft()
}

func TestConsoleSize(t *testing.T) {
	c := newRuntime(t).newContainer("stty", "size")
	c.spec.Process.Terminal = true
	c.spec.Process.ConsoleSize = &specs.Box{Height: 40, Width: 100}
	if out := runWithConsole(t, c); out != "40 100\r\n" {
		t.Errorf("stty size printed %q, want \"40 100\\r\\n\"", out)
	}
}

func TestTerminalNeedsConsoleSocket(t *testing.T) {
	tests := []struct {
		name  string
		flags func(dir string) []string // flags of create or run
		run   bool
		msgs  []string
	}{
		{name: "run --detach", flags: func(string) []string { return []string{"--detach"} }, run: true, msgs: []string{"console socket"}},
		{name: "create", flags: func(string) []string { return nil }, msgs: []string{"console socket"}},
		{
			name:  "nobody listening",
			flags: func(dir string) []string { return []string{"--console-socket", filepath.Join(dir, "none.sock")} },
			msgs:  []string{"none.sock", "no such file or directory"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newRuntime(t).newContainer("true")
			c.spec.Process.Terminal = true
			var res result
			if tc.run {
				res = c.run(tc.flags(t.TempDir())...)
			} else {
				res = c.create(tc.flags(t.TempDir())...)
			}
			expectFailure(t, c, res, c.id, tc.msgs...)
		})
	}
}

// A foreground run with a terminal proxies it to barco's own stdio even
// when that is not a terminal, as under a CI runner.
func TestRunTerminalForeground(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "tty; echo out; exit 5")
	c.spec.Process.Terminal = true
	res := c.run()
	if res.Code != 5 {
		t.Fatalf("exit code %d, want 5\n%s", res.Code, res)
	}
	assertContains(t, "stdout", res.Stdout, "/dev/pts/", "out\r\n")
	if res := c.barco("state", c.id); res.Code == 0 {
		t.Errorf("container still exists after run\n%s", res)
	}
	assertNoStrayChildren(t)
}

// TestRecvtty runs the tests/tools/recvtty helper as a person would, in
// place of a container engine.
func TestRecvtty(t *testing.T) {
	requireEnv(t)
	recvtty := filepath.Join(filepath.Dir(env.binary), "recvtty")
	if _, err := os.Stat(recvtty); err != nil {
		t.Skipf("recvtty helper not built (make tools): %v", err)
	}
	tests := []struct {
		mode   string
		stdout string // what recvtty itself prints
	}{
		{"null", ""},
		{"single", "hi\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			c := newRuntime(t).newContainer("echo", "hi")
			c.spec.Process.Terminal = true
			dir := shortTempDir(t)
			sock := filepath.Join(dir, "tty.sock")
			pidFile := filepath.Join(dir, "recvtty.pid")
			stdout, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
			if err != nil {
				t.Fatal(err)
			}
			defer stdout.Close()
			var stderr bytes.Buffer
			cmd := exec.Command(recvtty, "--mode", tc.mode, "--pid-file", pidFile, sock)
			cmd.Stdout, cmd.Stderr = stdout, &stderr
			if err := env.reaper.Start(cmd); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- env.reaper.Wait(cmd) }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			// The pid file appears once the socket listens.
			waitFile(t, pidFile)

			if res := c.create("--console-socket", sock); res.Code != 0 {
				t.Fatalf("create --console-socket failed\n%s", res)
			}
			c.mustBarco("start", c.id)
			select {
			case err := <-exited:
				exited <- err // for the cleanup
				if err != nil {
					t.Fatalf("recvtty: %v\nstderr: %s", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("recvtty did not exit after the container did")
			}
			if out, _ := os.ReadFile(stdout.Name()); string(out) != tc.stdout {
				t.Errorf("recvtty printed %q, want %q", out, tc.stdout)
			}
			if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("recvtty left its socket behind: %v", err)
			}
			c.waitStatus("stopped")
			c.mustBarco("delete", c.id)
			c.assertNothingLeft()
		})
	}
}

// runWithConsole creates and starts c with a console socket the test
// serves, and returns everything the container wrote to its terminal.
func runWithConsole(t *testing.T, c *container) string {
	t.Helper()
	l := listenConsole(t)
	if res := c.create("--console-socket", l.path); res.Code != 0 {
		t.Fatalf("create --console-socket failed\n%s", res)
	}
	out := collect(l.master(t))
	c.mustBarco("start", c.id)
	out.waitClosed(t)
	c.waitStatus("stopped")
	c.mustBarco("delete", c.id)
	c.assertNothingLeft()
	return out.String()
}

// consoleListener is the receiving end of --console-socket.
type consoleListener struct {
	path string
	got  chan received
}

type received struct {
	master *os.File
	err    error
}

// listenConsole listens on a fresh unix socket and, in the background,
// receives the one pty master sent to it.
func listenConsole(t *testing.T) *consoleListener {
	t.Helper()
	l := &consoleListener{path: filepath.Join(shortTempDir(t), "tty.sock"), got: make(chan received, 1)}
	ln, err := net.Listen("unix", l.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		master, err := acceptConsole(ln)
		l.got <- received{master, err}
	}()
	return l
}

func acceptConsole(ln net.Listener) (*os.File, error) {
	conn, err := ln.Accept()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sock, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	return console.RecvFd(sock)
}

// master waits for the pty master; it is closed when the test ends.
func (l *consoleListener) master(t *testing.T) *os.File {
	t.Helper()
	select {
	case r := <-l.got:
		if r.err != nil {
			t.Fatalf("receive console: %v", r.err)
		}
		t.Cleanup(func() { r.master.Close() })
		return r.master
	case <-time.After(10 * time.Second):
		t.Fatal("no console received on the socket")
		return nil
	}
}

// shortTempDir is a temporary directory with a short path: a unix socket
// path must fit in 108 bytes, which t.TempDir with a long test name may not.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "barco-tty-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ttyOutput gathers what is read from a pty master in the background.
type ttyOutput struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed chan struct{}
}

// collect reads master until the container closes its side (EIO).
func collect(master *os.File) *ttyOutput {
	o := &ttyOutput{closed: make(chan struct{})}
	go func() {
		defer close(o.closed)
		_, _ = io.Copy(o, master)
	}()
	return o
}

func (o *ttyOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *ttyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output holds every substring.
func (o *ttyOutput) waitFor(t *testing.T, subs ...string) {
	t.Helper()
	err := eventually(10*time.Second, func() error {
		s := o.String()
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return fmt.Errorf("terminal output %q lacks %q", s, sub)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitClosed waits until the container side of the terminal is closed.
func (o *ttyOutput) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-o.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("terminal still open; output so far %q", o.String())
	}
}
