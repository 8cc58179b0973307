package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the workload of the accounting tests: with
// "bench-helper" as its first argument it runs a helper instead of tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "bench-helper" {
		os.Exit(helper(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// helper modes:
//
//	orphan PIDFILE spin D [hold]: start "spin D [hold]" without waiting for
//	it, write its pid to PIDFILE and exit, so that it is orphaned;
//	spin D [hold]: burn D of CPU time, then exit, or with hold block;
//	alloc N: touch N MiB, then exit.
func helper(args []string) int {
	switch {
	case len(args) >= 3 && args[0] == "orphan":
		self, _ := os.Executable()
		cmd := exec.Command(self, append([]string{"bench-helper"}, args[2:]...)...)
		if err := cmd.Start(); err != nil {
			return 3
		}
		if err := os.WriteFile(args[1], []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			return 3
		}
		return 0
	case len(args) >= 2 && args[0] == "spin":
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return 3
		}
		for {
			c, err := processCPU(os.Getpid())
			if err != nil {
				return 3
			}
			if c >= d {
				break
			}
		}
		if len(args) > 2 && args[2] == "hold" {
			// A sleep, not an empty select: the runtime would call
			// that a deadlock and exit.
			time.Sleep(time.Hour)
		}
		return 0
	case len(args) == 2 && args[0] == "alloc":
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return 3
		}
		b := make([]byte, n<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		return 0
	}
	return 2
}

// testReaper builds the launcher and makes the test process a subreaper.
func testReaper(t *testing.T) *reaper {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler for the launcher")
	}
	dir := t.TempDir()
	l, err := buildLauncher(dir, "cc")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReaper(l, filepath.Join(dir, "logs"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func self(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An orphan's CPU time counts with the operation that left it, once reaped.
func TestCostCountsOrphans(t *testing.T) {
	r := testReaper(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	s0, err := r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.run("orphan", []string{self(t), "bench-helper", "orphan", pidFile, "spin", "200ms"}); err != nil {
		t.Fatal(err)
	}
	pid, err := readPidFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	r.track(pid)
	if err := r.waitExit(pid); err != nil {
		t.Fatal(err)
	}
	s1, err := r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// The spin alone is 200ms; two Go start-ups add a few milliseconds,
	// more on a loaded machine.
	if c := cost(s0, s1); c < 200*time.Millisecond || c > 700*time.Millisecond {
		t.Errorf("cost = %v, want 200ms of spin plus start-ups", c)
	}
}

// A tracked process's CPU time counts while it lives, and not again when it
// is reaped later.
func TestCostCountsLiveInitOnce(t *testing.T) {
	r := testReaper(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	s0, err := r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.run("orphan", []string{self(t), "bench-helper", "orphan", pidFile, "spin", "150ms", "hold"}); err != nil {
		t.Fatal(err)
	}
	pid, err := readPidFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	r.track(pid)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); _ = r.waitExit(pid) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := processCPU(pid)
		if err != nil {
			t.Fatal(err)
		}
		if c >= 150*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spin did not reach 150ms of CPU: %v", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s1, err := r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if c := cost(s0, s1); c < 150*time.Millisecond || c > 650*time.Millisecond {
		t.Errorf("cost while alive = %v, want 150ms of spin plus start-ups", c)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := r.waitExit(pid); err != nil {
		t.Fatal(err)
	}
	s2, err := r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if c := cost(s1, s2); c > 50*time.Millisecond {
		t.Errorf("cost of the kill = %v: the spin was counted twice", c)
	}
}

// The launcher reports a command's own peak RSS, not the harness's.
func TestLauncherPeakRSS(t *testing.T) {
	r := testReaper(t)
	// Make the harness big: a vfork child of it would carry this at execve.
	ballast := make([]byte, 64<<20)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1
	}
	tests := []struct {
		mib      int
		min, max int64
	}{
		{mib: 0, min: 0, max: 16 << 20},
		{mib: 40, min: 40 << 20, max: 56 << 20},
	}
	for _, tt := range tests {
		l, err := r.run(fmt.Sprintf("alloc-%d", tt.mib), []string{self(t), "bench-helper", "alloc", strconv.Itoa(tt.mib)})
		if err != nil {
			t.Fatal(err)
		}
		if l.res.maxRSS < tt.min || l.res.maxRSS > tt.max {
			t.Errorf("alloc %d MiB: peak RSS %d MiB, want %d..%d MiB", tt.mib, l.res.maxRSS>>20, tt.min>>20, tt.max>>20)
		}
		if l.res.wall() <= 0 || l.res.cpu <= 0 {
			t.Errorf("alloc %d MiB: wall %v, cpu %v", tt.mib, l.res.wall(), l.res.cpu)
		}
	}
	if ballast[4096] != 1 {
		t.Fatal("ballast lost")
	}
}

// A failing command's error carries its exit status and stderr.
func TestRunReportsFailure(t *testing.T) {
	r := testReaper(t)
	_, err := r.run("fails", []string{"/bin/sh", "-c", "echo no such container >&2; exit 3"})
	if err == nil {
		t.Fatal("a failing command succeeded")
	}
	if want := "fails: exit status 3: no such container"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}
