package main

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed launcher/launcher.c
var launcherSource []byte

// buildLauncher compiles the launcher into dir once per source version and
// returns its path. Static when the C library allows it: a dynamic launcher
// would map the loader and libc, and its vfork child would carry those pages
// into the command's peak RSS.
func buildLauncher(dir, cc string) (string, error) {
	sum := sha256.Sum256(launcherSource)
	bin := filepath.Join(dir, "launcher-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	src := filepath.Join(dir, "launcher.c")
	if err := os.WriteFile(src, launcherSource, 0o644); err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	var lastOut []byte
	for _, extra := range [][]string{{"-static"}, nil} {
		args := append([]string{"-O2", "-Wall", "-o", tmp, src}, extra...)
		out, err := exec.Command(cc, args...).CombinedOutput()
		if err == nil {
			return bin, os.Rename(tmp, bin)
		}
		lastOut = out
	}
	return "", fmt.Errorf("compile the launcher with %s: %s", cc, strings.TrimSpace(string(lastOut)))
}

// launchResult is what the launcher reports about the command it ran.
type launchResult struct {
	status     syscall.WaitStatus
	begin, end time.Duration // CLOCK_MONOTONIC at the command's execve and at its exit
	cpu        time.Duration // user+sys of the command and the children it reaped
	maxRSS     int64         // bytes; 0 when unknown
}

func (r launchResult) wall() time.Duration { return r.end - r.begin }

// parseLaunchResult parses the launcher's line: "STATUS BEGIN_NS END_NS
// UTIME_US STIME_US MAXRSS_KIB".
func parseLaunchResult(line string) (launchResult, error) {
	f := strings.Fields(line)
	if len(f) != 6 {
		return launchResult{}, fmt.Errorf("launcher result %q: want 6 fields", line)
	}
	var n [6]int64
	for i, s := range f {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return launchResult{}, fmt.Errorf("launcher result %q: field %d is not a count", line, i+1)
		}
		n[i] = v
	}
	if n[2] < n[1] {
		return launchResult{}, fmt.Errorf("launcher result %q: ends before it begins", line)
	}
	return launchResult{
		status: syscall.WaitStatus(n[0]),
		begin:  time.Duration(n[1]),
		end:    time.Duration(n[2]),
		cpu:    time.Duration(n[3]+n[4]) * time.Microsecond,
		maxRSS: n[5] * 1024,
	}, nil
}

// describeStatus says how a command ended; "" for exit status 0.
func describeStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return ""
	case ws.Exited() && ws.ExitStatus() == 127:
		return "exit status 127 (not executable?)"
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// monotonic reads CLOCK_MONOTONIC, the clock of the launcher's times.
func monotonic() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}
