package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
			if err := env.reaper.Start(cmd); err != nil {
				t.Fatal(err)
			}
			waited := false
			defer func() {
				if !waited {
					_ = cmd.Process.Kill()
					_ = env.reaper.Wait(cmd)
				}
			}()
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
			_ = env.reaper.Wait(cmd)
			waited = true
			data, _ := os.ReadFile(out)
			if code := exitCode(cmd.ProcessState); code != 3 {
				t.Fatalf("barco %s exited %d, want 3 (the process's code)\n%s", mode, code, data)
			}
			if !strings.Contains(string(data), "got TERM\n") {
				t.Fatalf("the process did not get SIGTERM:\n%s", data)
			}
		})
	}
}
