// Package cgroupv2 checks that a runtime applies every linux.resources field
// of runtime-spec to the container's cgroup v2 files, and that limits,
// updates, pause/resume, stats and deletion behave as they should. The
// runtime-tools validation suite only knows cgroup v1; this suite fills that
// gap for barco and, because it uses nothing but runc's command line, for
// runc and crun as well.
//
// It needs root and a pure cgroup v2 host with the memory, pids, cpu,
// cpuset and io controllers (`make test-vm` runs it in such a guest).
// Environment:
//
//	RUNTIME       absolute path of the runtime (default: the repo's bin/barco)
//	BARCO_ROOTFS  a busybox rootfs made by tests/rootfs/build.sh (default:
//	              the suite builds one in its temporary directory)
package cgroupv2

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/tests/internal/mounts"
	"github.com/barco-oci/barco/tests/internal/procs"
)

// suite is what TestMain found out about the host. Written once before the
// tests run, read-only afterwards.
type suite struct {
	runtime string // the runtime binary under test
	name    string // its base name, for messages
	rootfs  string // busybox rootfs copied into every bundle
	cgroup2 string // mount point of the cgroup2 hierarchy
	parent  string // "barco-v2test-<pid>": holds every container cgroup
	skip    string // why the suite cannot run here, "" if it can
	reaper  *procs.Reaper
}

var env suite

// neededControllers are the ones the resource checks write to; hugetlb is
// checked by its own test because not every kernel has it.
var neededControllers = []string{"cpu", "cpuset", "io", "memory", "pids"}

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "cgroupv2-suite-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "cgroupv2: %v\n", err)
		os.Exit(1)
	}
	env = discover(tmp)
	if env.skip == "" {
		// Containers outlive the runtime process that created them; as a
		// subreaper the test binary becomes their parent, and must reap them
		// since PID 1 may not.
		r, err := procs.NewReaper()
		if err != nil {
			fmt.Fprintf(os.Stderr, "cgroupv2: %v\n", err)
			os.Exit(1)
		}
		env.reaper = r
		fmt.Fprintf(os.Stderr, "cgroupv2: runtime %s, cgroup2 at %s, cgroups under /%s\n", env.runtime, env.cgroup2, env.parent)
	} else {
		fmt.Fprintf(os.Stderr, "cgroupv2: skipping every test: %s\n", env.skip)
	}
	code := m.Run()
	if env.skip == "" {
		env.reaper.Stop()
		if err := removeSuiteParent(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: leftovers after the suite: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	_ = os.RemoveAll(tmp)
	os.Exit(code)
}

func discover(tmp string) suite {
	s := suite{parent: "barco-v2test-" + strconv.Itoa(os.Getpid())}
	if os.Geteuid() != 0 {
		s.skip = "the cgroup v2 tests need root"
		return s
	}
	mnt, err := mounts.Cgroup2()
	if err != nil {
		s.skip = err.Error()
		return s
	}
	s.cgroup2 = mnt
	if missing := missingControllers(mnt, neededControllers); len(missing) > 0 {
		s.skip = fmt.Sprintf("the cgroup2 hierarchy at %s lacks the %s controllers (a hybrid host?); run `make test-vm`",
			mnt, strings.Join(missing, ", "))
		return s
	}
	// From here on the host can run the suite: a missing runtime or
	// rootfs is a broken set-up, never a reason to skip.
	if s.runtime, err = runtimePath(); err != nil {
		fatalSetup(err)
	}
	s.name = filepath.Base(s.runtime)
	src, err := sourceRootfs(tmp)
	if err != nil {
		fatalSetup(err)
	}
	// One copy on the suite's own (usually tmpfs) filesystem: every bundle
	// copies from it, which is cheap even when the source is on 9p.
	s.rootfs = filepath.Join(tmp, "rootfs-master")
	if err := copyTree(src, s.rootfs); err != nil {
		fatalSetup(fmt.Errorf("copy rootfs %s: %w", src, err))
	}
	return s
}

func fatalSetup(err error) {
	fmt.Fprintf(os.Stderr, "cgroupv2: %v\n", err)
	os.Exit(1)
}

// runtimePath is $RUNTIME, or bin/barco of the repository the tests are run
// from (found by walking up to go.mod).
func runtimePath() (string, error) {
	if p := os.Getenv("RUNTIME"); p != "" {
		if !filepath.IsAbs(p) {
			return "", fmt.Errorf("RUNTIME=%s is not an absolute path", p)
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("RUNTIME: %w", err)
		}
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "barco")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no runtime: set RUNTIME or run `make build` (%w)", err)
	}
	return p, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("not inside the barco repository: no go.mod above the working directory")
		}
		dir = up
	}
}

// sourceRootfs is $BARCO_ROOTFS, or a rootfs built by tests/rootfs/build.sh
// into the suite's temporary directory.
func sourceRootfs(tmp string) (string, error) {
	if p := os.Getenv("BARCO_ROOTFS"); p != "" {
		if _, err := os.Stat(filepath.Join(p, "bin", "busybox")); err != nil {
			return "", fmt.Errorf("BARCO_ROOTFS: %w", err)
		}
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(tmp, "rootfs")
	out, err := exec.Command(filepath.Join(root, "tests", "rootfs", "build.sh"), dst).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tests/rootfs/build.sh: %v\n%s", err, out)
	}
	return dst, nil
}

func missingControllers(mnt string, want []string) []string {
	data, err := os.ReadFile(filepath.Join(mnt, "cgroup.controllers"))
	if err != nil {
		return want
	}
	have := strings.Fields(string(data))
	var missing []string
	for _, c := range want {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	return missing
}

// removeSuiteParent runs after all tests. Every container cgroup must be
// gone by then; whatever is left is killed and removed, and reported.
func removeSuiteParent() error {
	parent := filepath.Join(env.cgroup2, env.parent)
	entries, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var problems []string
	for _, e := range entries {
		if e.IsDir() {
			problems = append(problems, "cgroup "+filepath.Join(parent, e.Name()))
			if err := removeCgroup(filepath.Join(parent, e.Name())); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if err := removeCgroup(parent); err != nil {
		problems = append(problems, err.Error())
	}
	for _, p := range env.reaper.Untracked() {
		problems = append(problems, fmt.Sprintf("process %d (%s) still alive", p.PID, p.Cmdline))
		_ = unix.Kill(p.PID, unix.SIGKILL)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
