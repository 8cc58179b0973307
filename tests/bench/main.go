// Command bench measures barco against runc and crun side by side: the cost
// of run, create, start, delete, exec, state and list, the memory a created
// container holds, and 50 containers started at once. It prints a Markdown
// table of medians with the ratios and the targets of issue 9, then a
// one-line summary.
//
// It must run as root. It re-executes itself in a private mount namespace
// where /sys/fs/cgroup is a cgroup2 mount and nothing else (crun refuses a
// hybrid hierarchy), and a tmpfs holds the state directories and bundles;
// every runtime runs there alike. The harness is a child subreaper: the
// inits runtimes leave behind become its children, and their CPU time is
// counted with the operation that made them work.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type options struct {
	barco, runc, crun string
	extra             []string
	rootfs            string
	work              string
	cc                string
	install           bool
	quick             bool
	timeout           time.Duration

	runRounds, lifeRounds, execRounds, queryRounds, concRounds int
	queryN, concN                                              int

	cells []string

	inner    bool
	launcher string
}

// cellNames are the cells in the order they run.
var cellNames = []string{"run", "lifecycle", "exec", "query", "concurrent"}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var extra stringList
	fs.StringVar(&o.barco, "barco", "bin/barco", "the barco binary")
	fs.StringVar(&o.runc, "runc", "/usr/sbin/runc", "the runc binary; \"\" to leave it out")
	fs.StringVar(&o.crun, "crun", "/usr/bin/crun", "the crun binary; \"\" to leave it out")
	fs.Var(&extra, "runtime", "another runtime binary to measure (repeatable)")
	fs.StringVar(&o.rootfs, "rootfs", "tests/.cache/rootfs", "the busybox rootfs (tests/rootfs/build.sh)")
	fs.StringVar(&o.work, "work", "tests/.cache/bench", "where the launcher is built")
	fs.StringVar(&o.cc, "cc", "cc", "the C compiler for the launcher")
	fs.BoolVar(&o.install, "install", true, "apt-get install crun when /usr/bin/crun is missing")
	fs.BoolVar(&o.quick, "quick", false, "a smoke run: few rounds, few containers")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "the time one runtime command may take")
	fs.IntVar(&o.runRounds, "rounds", 100, "rounds of run")
	fs.IntVar(&o.lifeRounds, "lifecycle-rounds", 50, "rounds of create, start and delete")
	fs.IntVar(&o.execRounds, "exec-rounds", 50, "rounds of exec")
	fs.IntVar(&o.queryRounds, "query-rounds", 20, "rounds of state and list")
	fs.IntVar(&o.queryN, "containers", 100, "created containers per runtime while state and list are measured")
	fs.IntVar(&o.concRounds, "concurrent-rounds", 3, "rounds of the concurrent cell")
	fs.IntVar(&o.concN, "concurrent", 50, "containers created and started at once")
	cells := fs.String("cells", strings.Join(cellNames, ","), "the cells to run: "+strings.Join(cellNames, ", "))
	fs.BoolVar(&o.inner, "inner", false, "internal: run in the private mount namespace")
	fs.StringVar(&o.launcher, "launcher", "", "internal: the built launcher")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.extra = extra
	for _, c := range strings.Split(*cells, ",") {
		if !slices.Contains(cellNames, c) {
			return o, fmt.Errorf("unknown cell %q (want some of %s)", c, strings.Join(cellNames, ","))
		}
		o.cells = append(o.cells, c)
	}
	if o.quick {
		o.runRounds, o.lifeRounds, o.execRounds, o.queryRounds, o.concRounds = 3, 3, 3, 3, 1
		o.queryN, o.concN = 10, 10
	}
	for _, n := range []int{o.runRounds, o.lifeRounds, o.execRounds, o.queryRounds, o.concRounds, o.queryN, o.concN} {
		if n < 1 {
			return o, errors.New("rounds and container counts must be at least 1")
		}
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: must run as root: it creates containers")
		return 2
	}
	if o.inner {
		err = inner(o, os.Stdout)
	} else {
		err = outer(o, args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

// outer prepares what needs the host (crun, the launcher) and runs the
// harness again in a private mount namespace.
func outer(o options, args []string) error {
	if o.crun != "" {
		if err := ensureCrun(o.crun, o.install); err != nil {
			fmt.Fprintln(os.Stderr, "bench: warning:", err)
		}
	}
	work, err := filepath.Abs(o.work)
	if err != nil {
		return err
	}
	launcher, err := buildLauncher(work, o.cc)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append([]string{"-inner", "-launcher", launcher}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Go makes the new namespace's mounts private before the harness runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the harness in a mount namespace: %w", err)
	}
	go func() {
		for s := range sig {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.ExitCode())
	}
	return err
}

// setupNamespace leaves a single cgroup2 mount at /sys/fs/cgroup and puts a
// tmpfs on dir. It runs in the private mount namespace only.
func setupNamespace(dir string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		// Detaching here leaves the host's v1 hierarchies as they are:
		// the namespace's copy of the mounts goes, not the mounts.
		if err := unix.Unmount("/sys/fs/cgroup", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach /sys/fs/cgroup in the namespace: %w", err)
		}
		if err := unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount cgroup2 on /sys/fs/cgroup: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// inner is the harness proper, in the private mount namespace.
func inner(o options, out io.Writer) error {
	if o.launcher == "" {
		return errors.New("-inner needs -launcher")
	}
	work, err := filepath.Abs(o.work)
	if err != nil {
		return err
	}
	tmp := filepath.Join(work, "ns")
	if err := setupNamespace(tmp); err != nil {
		return err
	}
	rootfs, err := filepath.Abs(o.rootfs)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin", "busybox")); err != nil {
		return fmt.Errorf("rootfs %s: %w (make rootfs builds it)", rootfs, err)
	}
	rts, err := runtimesOf(o, tmp)
	if err != nil {
		return err
	}
	specDir := filepath.Join(tmp, "spec")
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return err
	}
	base, err := defaultSpec(rts[0].path, specDir)
	if err != nil {
		return err
	}
	b := &bench{
		o:         o,
		rts:       rts,
		bundleDir: filepath.Join(tmp, "bundles"),
		pidDir:    filepath.Join(tmp, "pids"),
		cgroupDir: filepath.Join("/sys/fs/cgroup", cgroupParent),
		res:       newResults(),
		stop:      &atomic.Bool{},
		live:      map[*runtimeUnderTest]map[string]int{},
	}
	if b.trueSpec, err = benchSpec(base, rootfs, []string{"/bin/true"}); err != nil {
		return err
	}
	if b.sleepSpec, err = benchSpec(base, rootfs, []string{"/bin/sleep", "3600"}); err != nil {
		return err
	}
	for _, d := range []string{b.bundleDir, b.pidDir, b.cgroupDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, rt := range rts {
		b.live[rt] = map[string]int{}
	}
	if b.r, err = newReaper(o.launcher, filepath.Join(tmp, "logs"), o.timeout); err != nil {
		return err
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		b.stop.Store(true)
		fmt.Fprintln(os.Stderr, "bench: interrupted; cleaning up after the current operation")
	}()

	names := make([]string, len(rts))
	for i, rt := range rts {
		names[i] = rt.name
	}
	fmt.Fprintf(out, "machine: %s, %d CPUs, Linux %s; cgroup2 only (private mount namespace)\n", cpuModel(), runtime.NumCPU(), kernelRelease())
	for _, rt := range rts {
		fmt.Fprintf(out, "%-6s %s: %s\n", rt.name, rt.path, rt.version)
	}
	fmt.Fprintf(out, "rounds: run %d, create/start/delete %d, exec %d, state/list %d with %d containers, %d × %d at once\n\n",
		o.runRounds, o.lifeRounds, o.execRounds, o.queryRounds, o.queryN, o.concRounds, o.concN)

	begin := time.Now()
	cells := []struct {
		name string
		fn   func() error
	}{
		{"run", b.cellRun},
		{"lifecycle", b.cellLifecycle},
		{"exec", b.cellExec},
		{"query", b.cellQuery},
		{"concurrent", b.cellConcurrent},
	}
	var runErr error
	for _, c := range cells {
		if !slices.Contains(o.cells, c.name) {
			continue
		}
		t := time.Now()
		if runErr = c.fn(); runErr != nil {
			runErr = fmt.Errorf("cell %s: %w", c.name, runErr)
			break
		}
		fmt.Fprintf(os.Stderr, "bench: %s done in %s\n", c.name, time.Since(t).Round(time.Millisecond))
	}
	b.cleanup()
	if runErr != nil {
		return runErr
	}
	t := writeTable(out, tableRows(o), b.res, names)
	fmt.Fprintln(out)
	writePeaks(out, b.res, names)
	fmt.Fprintf(out, "\nmedians; CPU is user+sys of every process of the operation; %s in all\n", time.Since(begin).Round(time.Second))
	fmt.Fprintln(out, summary(t, b.res))
	return nil
}

// runtimesOf lists the runtimes to measure, barco first, each with a state
// directory on the namespace's tmpfs.
func runtimesOf(o options, tmp string) ([]*runtimeUnderTest, error) {
	barco, err := filepath.Abs(o.barco)
	if err != nil {
		return nil, err
	}
	if !executable(barco) {
		return nil, fmt.Errorf("barco binary %s: not executable (make build)", barco)
	}
	rts := []*runtimeUnderTest{{name: "barco", path: barco}}
	for _, c := range []struct{ name, path string }{{"crun", o.crun}, {"runc", o.runc}} {
		if c.path == "" {
			continue
		}
		if !executable(c.path) {
			fmt.Fprintf(os.Stderr, "bench: warning: %s (%s) is not there; measured without it\n", c.name, c.path)
			continue
		}
		rts = append(rts, &runtimeUnderTest{name: c.name, path: c.path})
	}
	extraNames := runtimeNames(o.extra)
	for i, p := range o.extra {
		abs, err := filepath.Abs(p)
		if err != nil || !executable(abs) {
			return nil, fmt.Errorf("runtime %s: not executable", p)
		}
		name := extraNames[i]
		if name == "barco" || name == "crun" || name == "runc" {
			name += "-extra"
		}
		rts = append(rts, &runtimeUnderTest{name: name, path: abs})
	}
	for _, rt := range rts {
		rt.root = filepath.Join(tmp, "state", rt.name)
		rt.version = versionOf(rt.path)
	}
	return rts, nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
