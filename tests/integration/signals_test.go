package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/tests/internal/runcmd"
)

// echoTrapScript prints a line for each signal it gets (SIGTERM ends it with
// code 3) and "ready" once its traps are set.
const echoTrapScript = `trap 'echo got USR1' USR1; trap 'echo got 37' 37; trap 'echo got HUP' HUP; ` +
	`trap 'echo got TERM; exit 3' TERM; echo ready; while true; do sleep 0.05; done`

// TestForegroundForwardsSignals: a foreground run or exec passes the
// signals barco receives on to the container's process, real-time ones
// included, and exits with the code the process ends with.
func TestForegroundForwardsSignals(t *testing.T) {
	for _, mode := range []string{"run", "exec"} {
		t.Run(mode, func(t *testing.T) {
			var c *container
			var args []string
			if mode == "run" {
				c = newRuntime(t).newContainer("sh", "-c", echoTrapScript)
				c.save()
				args = []string{"run", "--bundle", c.bundle, c.id}
			} else {
				c = newRuntime(t).newContainer("sleep", "1000")
				c.mustBarco("run", "--detach", "--bundle", c.bundle, c.id)
				args = []string{"exec", c.id, "sh", "-c", echoTrapScript}
			}
			out := filepath.Join(t.TempDir(), "stdout")
			stdout, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			defer stdout.Close()
			cmd := exec.Command(env.binary, append([]string{"--root", c.root}, args...)...)
			cmd.Stdout, cmd.Stderr = stdout, stdout
			wait := startForeground(t, cmd)
			waitFor := func(line string) {
				t.Helper()
				err := eventually(20*time.Second, func() error {
					data, _ := os.ReadFile(out)
					if !strings.Contains(string(data), line+"\n") {
						return fmt.Errorf("no %q in the output:\n%s", line, data)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			waitFor("ready")
			for _, s := range []struct {
				sig  unix.Signal
				line string
			}{{unix.SIGUSR1, "got USR1"}, {unix.Signal(37), "got 37"}, {unix.SIGHUP, "got HUP"}} {
				if err := cmd.Process.Signal(s.sig); err != nil {
					t.Fatal(err)
				}
				waitFor(s.line)
			}
			if err := cmd.Process.Signal(unix.SIGTERM); err != nil {
				t.Fatal(err)
			}
			wait()
			data, _ := os.ReadFile(out)
			if code := runcmd.ExitCode(cmd.ProcessState); code != 3 {
				t.Fatalf("barco %s exited %d, want 3 (the process's code)\n%s", mode, code, data)
			}
			if !strings.Contains(string(data), "got TERM\n") {
				t.Fatalf("the process did not get SIGTERM:\n%s", data)
			}
		})
	}
}

// startForeground starts a foreground barco command and returns the
// function that waits for it; a test that ends before waiting kills it.
func startForeground(t *testing.T, cmd *exec.Cmd) (wait func()) {
	t.Helper()
	if err := env.reaper.Start(cmd); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = env.reaper.Wait(cmd)
		}
	})
	return func() {
		_ = env.reaper.Wait(cmd)
		waited = true
	}
}

// TestForegroundTerminalSurvivesClosedStdout: when the reader of a
// foreground run's stdout goes away, barco stops copying the terminal's
// output but still waits for the container, exits with its code and
// deletes it (it is not killed by SIGPIPE).
func TestForegroundTerminalSurvivesClosedStdout(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "echo first; sleep 0.5; echo second; echo third; exit 5")
	c.spec.Process.Terminal = true
	c.save()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(env.binary, "--root", c.root, "run", "--bundle", c.bundle, c.id)
	cmd.Stdout, cmd.Stderr = w, w
	if err := env.reaper.Start(cmd); err != nil {
		t.Fatal(err)
	}
	w.Close()
	buf := make([]byte, 64)
	if err := r.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := r.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "first") {
		t.Fatalf("first output %q, %v", buf[:n], err)
	}
	r.Close()
	_ = env.reaper.Wait(cmd)
	if code := runcmd.ExitCode(cmd.ProcessState); code != 5 {
		t.Fatalf("barco run exited %d, want the container's 5", code)
	}
	if res := c.barco("state", c.id); res.Code == 0 {
		t.Fatalf("the container is still there after run:\n%s", res)
	}
}

// TestForegroundDeleteSurvivesSignal: a signal that reaches a foreground
// run after its container has ended, while barco deletes it, neither ends
// barco nor leaves the container behind: the poststop hook finishes, the
// container is gone and barco exits with the container's code.
func TestForegroundDeleteSurvivesSignal(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "exit 4")
	marks := t.TempDir()
	hook := filepath.Join(t.TempDir(), "poststop.sh")
	script := "#!/bin/sh\necho > " + marks + "/started\nsleep 1\necho > " + marks + "/done\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: hook}}}
	c.save()
	cmd := exec.Command(env.binary, "--root", c.root, "run", "--bundle", c.bundle, c.id)
	wait := startForeground(t, cmd)
	err := eventually(20*time.Second, func() error {
		_, err := os.Stat(filepath.Join(marks, "started"))
		return err
	})
	if err != nil {
		t.Fatalf("the poststop hook did not start: %v", err)
	}
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP} {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	wait()
	if code := runcmd.ExitCode(cmd.ProcessState); code != 4 {
		t.Fatalf("barco run exited %d, want the container's 4", code)
	}
	if _, err := os.Stat(filepath.Join(marks, "done")); err != nil {
		t.Errorf("the poststop hook did not finish: %v", err)
	}
	if res := c.barco("state", c.id); res.Code == 0 {
		t.Fatalf("the container is still there after run:\n%s", res)
	}
}
