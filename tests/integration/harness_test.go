// Package integration runs the barco binary against real containers built
// from a busybox rootfs. It needs root; `make integration` builds the binary
// and the rootfs and passes their paths in BARCO_BINARY and BARCO_ROOTFS.
package integration

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/tests/internal/mounts"
	"github.com/barco-oci/barco/tests/internal/procs"
	"github.com/barco-oci/barco/tests/internal/runcmd"
)

// commandTimeout bounds every command a test runs; a hung barco is killed.
const commandTimeout = 30 * time.Second

// testCgroupParent is the directory, under the cgroup2 mount, that holds the
// cgroup of every container the tests create (linux.cgroupsPath is set to
// /barco-test-<pid>/<name>), so leftovers are easy to find.
// It is unique per run, so that runs side by side never clean up each
// other's containers.
var testCgroupParent = "barco-test-" + strconv.Itoa(os.Getpid())

// suite holds what TestMain found out about the host. It is written once,
// before any test runs, and only read afterwards.
type suite struct {
	binary  string // the barco binary under test
	rootfs  string // the busybox rootfs copied into each bundle
	cgroup2 string // mount point of the cgroup2 hierarchy, "" if none
	skip    string // why the tests cannot run here, "" if they can
	reaper  *procs.Reaper
}

var env suite

func TestMain(m *testing.M) {
	env = discover()
	if env.skip == "" {
		// Containers made by `barco create` outlive the barco process that
		// started them; as a subreaper we become their parent instead of
		// PID 1, which does not reap on this host.
		r, err := procs.NewReaper()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		env.reaper = r
	}
	code := m.Run()
	if env.skip == "" {
		env.reaper.Stop()
		if err := checkSuiteLeftovers(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: leftovers after the suite: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

func discover() suite {
	s := suite{binary: os.Getenv("BARCO_BINARY"), rootfs: os.Getenv("BARCO_ROOTFS")}
	switch {
	case os.Geteuid() != 0:
		s.skip = "integration tests need root"
	case s.binary == "" || s.rootfs == "":
		s.skip = "BARCO_BINARY and BARCO_ROOTFS are not set; run `make integration`"
	}
	if s.skip != "" {
		return s
	}
	if _, err := os.Stat(s.binary); err != nil {
		s.skip = fmt.Sprintf("barco binary: %v", err)
	} else if _, err := os.Stat(filepath.Join(s.rootfs, "bin", "busybox")); err != nil {
		s.skip = fmt.Sprintf("busybox rootfs: %v", err)
	}
	mnt, err := mounts.Cgroup2()
	if err != nil {
		s.skip = fmt.Sprintf("find cgroup2 mount: %v", err)
	}
	s.cgroup2 = mnt
	return s
}

// requireEnv skips the test when the suite cannot run on this host.
func requireEnv(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}

// testCgroupDir is the host path of the cgroup named by cgroupsPath
// "/barco-test-<pid>/<name>".
func testCgroupDir(name string) string {
	return filepath.Join(env.cgroup2, testCgroupParent, name)
}

// result is what a finished command left behind.
type result = runcmd.Result

// runCmd runs a command to completion (runcmd.Run) under the suite's reaper.
func runCmd(t *testing.T, name string, args ...string) result {
	t.Helper()
	return runcmd.Run(t, env.reaper, commandTimeout, "", name, args...)
}

// checkSuiteLeftovers runs after all tests: every container cgroup must be
// gone and no container process may still be alive. It removes what it finds
// so that the next run starts clean.
func checkSuiteLeftovers() error {
	var problems []string
	parent := filepath.Join(env.cgroup2, testCgroupParent)
	entries, err := os.ReadDir(parent)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		problems = append(problems, err.Error())
	}
	for _, e := range entries {
		if e.IsDir() {
			problems = append(problems, "cgroup "+filepath.Join(parent, e.Name()))
			if err := removeCgroup(filepath.Join(parent, e.Name())); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if err := os.Remove(parent); err != nil && !errors.Is(err, os.ErrNotExist) {
		problems = append(problems, fmt.Sprintf("remove %s: %v", parent, err))
	}
	for _, p := range env.reaper.Untracked() {
		problems = append(problems, fmt.Sprintf("process %d (%s)", p.PID, p.Cmdline))
		_ = unix.Kill(p.PID, unix.SIGKILL)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// removeCgroup kills every process in a cgroup tree and removes it,
// deepest directories first.
func removeCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// cgroup.kill (Linux 5.14) kills the whole subtree at once.
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
		lastErr = eventually(5*time.Second, func() error { return os.Remove(dirs[i]) })
	}
	if lastErr != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, lastErr)
	}
	return nil
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

// mountPointsContaining lists mount points in our mount namespace whose path
// contains s.
func mountPointsContaining(s string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if mp := mounts.Unescape(fields[4]); strings.Contains(mp, s) {
			out = append(out, mp)
		}
	}
	return out
}
