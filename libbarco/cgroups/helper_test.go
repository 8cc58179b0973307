package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the process placed in test cgroups: with
// helperEnv set, TestMain runs a helper instead of the tests.
const helperEnv = "BARCO_CGROUPS_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runHelper(mode string, args []string) int {
	switch mode {
	case "open":
		// args: MODE:PATH ...; prints one result per line: "ok" or the errno.
		for _, a := range args {
			mode, path, _ := strings.Cut(a, ":")
			flags := map[string]int{"r": unix.O_RDONLY, "w": unix.O_WRONLY, "rw": unix.O_RDWR}[mode]
			fd, err := unix.Open(path, flags|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err != nil {
				fmt.Println(unix.ErrnoName(err.(unix.Errno)))
				continue
			}
			unix.Close(fd)
			fmt.Println("ok")
		}
		return 0
	case "alloc":
		// args: MiB; touches that much memory, says "ready", then waits
		// for stdin to close.
		mib, _ := strconv.Atoi(args[0])
		buf := make([]byte, mib<<20)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		runtime.KeepAlive(buf)
		return 0
	case "tick":
		for {
			os.Stdout.Write([]byte{'.'})
			time.Sleep(10 * time.Millisecond)
		}
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

// helper is a running helper process inside a test cgroup.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *os.File
	lines  *bufio.Reader
}

// startHelper starts the test binary in helper mode directly inside m's
// cgroup (CLONE_INTO_CGROUP); it is killed and reaped when the test ends.
func startHelper(t *testing.T, m *Manager, mode string, args ...string) (*helper, error) {
	t.Helper()
	fd, err := m.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stdout = w
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &helper{cmd: cmd, stdin: stdin, stdout: r, lines: bufio.NewReader(r)}, nil
}

// readLine reads one line of the helper's output within a generous bound
// (the guest is slow).
func (h *helper) readLine(t *testing.T) string {
	t.Helper()
	if err := h.stdout.SetReadDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	line, err := h.lines.ReadString('\n')
	if err != nil {
		t.Fatalf("read helper output: %v (got %q)", err, line)
	}
	return strings.TrimSuffix(line, "\n")
}

// wrote reports whether the helper writes something within d.
func (h *helper) wrote(t *testing.T, d time.Duration) bool {
	t.Helper()
	if err := h.stdout.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	_, err := h.lines.ReadByte()
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read helper output: %v", err)
	}
	return err == nil
}

// received reports how many bytes the helper writes within d.
func (h *helper) received(t *testing.T, d time.Duration) int {
	t.Helper()
	if err := h.stdout.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, h.lines)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read helper output: %v", err)
	}
	return int(n)
}

// needControllers skips unless the cgroup2 root offers every controller in
// ctrls (on hybrid hosts it may offer only a few).
func needControllers(t *testing.T, mount string, ctrls ...string) {
	t.Helper()
	avail, err := readFields(mount + "/cgroup.controllers")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ctrls {
		if !slices.Contains(avail, c) {
			t.Skipf("cgroup v2 controller %q is not available at %s", c, mount)
		}
	}
}

// readString reads an interface file of m, trimmed.
func readString(t *testing.T, m *Manager, name string) string {
	t.Helper()
	data, err := os.ReadFile(m.file(name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}
