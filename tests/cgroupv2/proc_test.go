package cgroupv2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/barco-oci/barco/tests/internal/runcmd"
)

// commandTimeout bounds every runtime command. Under an emulated CPU one
// container start takes seconds, so it is generous.
const commandTimeout = 90 * time.Second

// result is what a finished command left behind.
type result = runcmd.Result

// runCmd runs a command to completion (runcmd.Run) under the suite's
// reaper, with stdin as its input.
func runCmd(t *testing.T, stdin string, name string, args ...string) result {
	t.Helper()
	return runcmd.Run(t, env.reaper, commandTimeout, stdin, name, args...)
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
