// Package clients drives barco through the container engines people use it
// with: podman (through conmon), containerd's runc shim v2 (ctr) and
// containerd's CRI plugin (crictl), the path Kubernetes takes. Every
// scenario runs once with barco and once with runc, and the suite ends with
// a table of both columns, so a failure under barco alone points at barco.
//
// The daemons and their state are private to the run: podman gets its own
// --root, --runroot and containers.conf, containerd its own root, state and
// socket, all under a temporary directory removed at the end.
//
// The test binary re-executes itself in a private mount namespace, so that
// the mounts the suite and the engines make never reach the host. Engines
// expect the cgroup2 hierarchy at /sys/fs/cgroup; on a host with hybrid
// cgroups (v1 controllers there, cgroup2 elsewhere) cgroup2 is mounted over
// /sys/fs/cgroup in that namespace, and the host's mounts are not changed.
//
// `make test-clients` builds what the suite needs and passes it in:
// BARCO_BINARY, BARCO_ROOTFS (the busybox rootfs), RUNC_BINARY (default
// /usr/sbin/runc) and CRICTL_BINARY (default crictl from PATH).
package clients

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/tests/internal/cgtree"
	"github.com/barco-oci/barco/tests/internal/procs"
)

// inNamespaceEnv marks the re-executed test binary, already in its own
// mount namespace.
const inNamespaceEnv = "BARCO_CLIENTS_IN_MOUNTNS"

// runtimeUnderTest is one OCI runtime the scenarios are run with.
type runtimeUnderTest struct {
	name   string // "barco" or "runc": the runtime's name for the engines
	binary string
}

// suite holds what TestMain found out; written once before the tests run.
type suite struct {
	runtimes []runtimeUnderTest
	rootfs   string
	crictl   string
	workdir  string // private state of every engine, removed at the end
	skip     string // why nothing can run here, "" if it can
	reaper   *procs.Reaper
}

var env suite

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 && os.Getenv(inNamespaceEnv) == "" {
		os.Exit(reexecInMountNamespace())
	}
	env = discover()
	if env.skip == "" {
		r, err := procs.NewReaper()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		env.reaper = r
		dir, err := os.MkdirTemp("", "barco-clients-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		env.workdir = dir
	}
	// containerd makes a cgroup for its namespace, podman libpod_parent;
	// both stay, empty, after their containers. Those that were not there
	// before go at the end.
	var leftCgroups []string
	if env.skip == "" {
		leftCgroups = cgtree.Missing("/sys/fs/cgroup", ctrNamespace, "libpod_parent")
	}
	code := m.Run()
	if env.skip == "" {
		stopDaemons()
		// Shims, conmons and containers that outlived a failed scenario:
		// all are children of this process (it is their subreaper), none
		// is the host's.
		for _, pid := range liveChildren() {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(200 * time.Millisecond)
		env.reaper.Stop()
		// Container layers still mounted would let RemoveAll reach into
		// them; the mounts are in this private namespace only.
		unmountUnder(env.workdir)
		if err := os.RemoveAll(env.workdir); err != nil {
			fmt.Fprintf(os.Stderr, "remove %s: %v\n", env.workdir, err)
		}
		for _, name := range leftCgroups {
			cgtree.RemoveEmpty(filepath.Join("/sys/fs/cgroup", name))
		}
	}
	printTable()
	os.Exit(code)
}

// needsCgroup2View tells whether /sys/fs/cgroup is something other than a
// cgroup2 mount, so that the engines would not find cgroup v2 there.
func needsCgroup2View() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return true
	}
	return st.Type != unix.CGROUP2_SUPER_MAGIC
}

// reexecInMountNamespace runs this test binary again, with the same
// arguments, in a new mount namespace whose mounts are private (the Go
// runtime makes / recursively private after unshare(CLONE_NEWNS)), and
// returns its exit code.
func reexecInMountNamespace() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "find test binary: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), inNamespaceEnv+"=1")
	cmd.SysProcAttr = &unix.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "run the suite in a private mount namespace: %v\n", err)
	return 1
}

func discover() suite {
	s := suite{rootfs: os.Getenv("BARCO_ROOTFS")}
	barco := os.Getenv("BARCO_BINARY")
	runc := os.Getenv("RUNC_BINARY")
	if runc == "" {
		runc = "/usr/sbin/runc"
	}
	s.runtimes = []runtimeUnderTest{{name: "barco", binary: barco}, {name: "runc", binary: runc}}
	s.crictl = os.Getenv("CRICTL_BINARY")
	if s.crictl == "" {
		s.crictl, _ = exec.LookPath("crictl")
	}
	switch {
	case os.Geteuid() != 0:
		s.skip = "the client tests need root"
	case barco == "" || s.rootfs == "":
		s.skip = "BARCO_BINARY and BARCO_ROOTFS are not set; run `make test-clients`"
	}
	if s.skip != "" {
		return s
	}
	for _, rt := range s.runtimes {
		if _, err := os.Stat(rt.binary); err != nil {
			s.skip = fmt.Sprintf("%s binary: %v", rt.name, err)
			return s
		}
	}
	if _, err := os.Stat(filepath.Join(s.rootfs, "bin", "busybox")); err != nil {
		s.skip = fmt.Sprintf("busybox rootfs: %v", err)
		return s
	}
	if os.Getenv(inNamespaceEnv) == "" {
		s.skip = "not in a private mount namespace"
		return s
	}
	if needsCgroup2View() {
		// The engines read cgroup v2 from /sys/fs/cgroup only. barco
		// finds this mount through mountinfo like any other.
		if err := unix.Mount("none", "/sys/fs/cgroup", "cgroup2", 0, ""); err != nil {
			s.skip = fmt.Sprintf("mount cgroup2 on /sys/fs/cgroup in the private mount namespace: %v", err)
		}
	}
	return s
}

// requireEnv skips the test when the suite cannot run on this host.
func requireEnv(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}

// requireTool skips the test when a client program is missing.
func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it)", n)
		}
	}
}

// results is the table printed at the end: scenario -> runtime -> outcome.
var results = struct {
	sync.Mutex
	order []string
	cells map[string]map[string]string
}{cells: map[string]map[string]string{}}

// eachRuntime runs fn as a subtest per runtime under test and records the
// outcome in the table under scenario.
func eachRuntime(t *testing.T, scenario string, fn func(t *testing.T, rt runtimeUnderTest)) {
	t.Helper()
	for _, rt := range env.runtimes {
		t.Run(rt.name, func(t *testing.T) {
			t.Cleanup(func() { record(scenario, rt.name, t) })
			fn(t, rt)
		})
	}
}

func record(scenario, runtime string, t *testing.T) {
	outcome := "pass"
	switch {
	case t.Failed():
		outcome = "FAIL"
	case t.Skipped():
		outcome = "skip"
	}
	results.Lock()
	defer results.Unlock()
	row, ok := results.cells[scenario]
	if !ok {
		row = map[string]string{}
		results.cells[scenario] = row
		results.order = append(results.order, scenario)
	}
	row[runtime] = outcome
}

func printTable() {
	results.Lock()
	defer results.Unlock()
	if len(results.order) == 0 {
		return
	}
	names := make([]string, 0, len(env.runtimes))
	for _, rt := range env.runtimes {
		names = append(names, rt.name)
	}
	width := len("scenario")
	for _, s := range results.order {
		width = max(width, len(s))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-*s", width, "scenario")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-6s", n)
	}
	b.WriteString("\n")
	counts := map[string]map[string]int{}
	for _, s := range results.order {
		fmt.Fprintf(&b, "%-*s", width, s)
		for _, n := range names {
			cell := results.cells[s][n]
			if cell == "" {
				cell = "-"
			}
			fmt.Fprintf(&b, "  %-6s", cell)
			if counts[n] == nil {
				counts[n] = map[string]int{}
			}
			counts[n][cell]++
		}
		b.WriteString("\n")
	}
	for _, n := range names {
		var parts []string
		for outcome, c := range counts[n] {
			parts = append(parts, fmt.Sprintf("%d %s", c, outcome))
		}
		sort.Strings(parts)
		fmt.Fprintf(&b, "%s: %s\n", n, strings.Join(parts, ", "))
	}
	fmt.Print(b.String())
}
