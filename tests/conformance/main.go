// Command conformance runs the opencontainers/runtime-tools validation
// suite against a runtime and reports every TAP assertion.
//
// It fetches the suite through the Go module proxy and builds runtimetest
// and the validation programs once into a cache directory. It then runs
// each program with RUNTIME set to the runtime, with a timeout, as the
// subreaper of all it starts, and prints a table and the totals. It exits
// non-zero when an assertion fails that the known-bad list (knownbad.go)
// does not excuse. Its last line is "N passed, M failed", counting
// assertions; known-bad failures are on the line before and not in M.
//
// It must run as root: the programs create real containers.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/moby/sys/capability"

	"github.com/barco-oci/barco/tests/internal/cgtree"
	"github.com/barco-oci/barco/tests/internal/mounts"
)

type options struct {
	runtime   string
	cacheDir  string
	goTool    string
	version   string
	stateDir  string
	timeout   time.Duration
	filter    *regexp.Regexp
	details   int
	buildOnly bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "conformance:", err)
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "conformance: must run as root: the suite creates containers")
		return 2
	}
	s, err := builder{goTool: opts.goTool, log: stderr}.prepare(opts.cacheDir, opts.version)
	if err != nil {
		fmt.Fprintln(stderr, "conformance: prepare the suite:", err)
		return 2
	}
	if opts.buildOnly {
		fmt.Fprintf(stdout, "suite %s@%s: %d programs in %s\n", suiteModule, opts.version, len(s.Tests), s.Dir)
		return 0
	}
	logDir := filepath.Join(opts.cacheDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		fmt.Fprintln(stderr, "conformance:", err)
		return 2
	}
	list, err := knownBadHere()
	if err != nil {
		fmt.Fprintln(stderr, "conformance:", err)
		return 2
	}
	rp, err := newReaper()
	if err != nil {
		fmt.Fprintln(stderr, "conformance:", err)
		return 2
	}
	tmpDir, err := os.MkdirTemp("", "barco-conformance-")
	if err == nil {
		err = os.Chmod(tmpDir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(stderr, "conformance: scratch directory:", err)
		return 2
	}
	// The suite's cgroup programs use the cgroups path
	// testdir/cgrouptest/container: its parents stay, empty, after the
	// containers. If they were not there before, they go at the end.
	var leftCgroups []string
	if mnt, err := mounts.Cgroup2(); err == nil {
		for _, name := range cgtree.Missing(mnt, "testdir") {
			leftCgroups = append(leftCgroups, filepath.Join(mnt, name))
		}
	}
	defer func() {
		for _, dir := range leftCgroups {
			cgtree.RemoveEmpty(dir)
		}
	}()
	r := testRunner{opts: opts, suite: s, logDir: logDir, tmpDir: tmpDir, reaper: rp, log: stderr}
	var results []testResult
	for _, name := range s.Tests {
		if opts.filter != nil && !opts.filter.MatchString(name) {
			continue
		}
		if why, ok := excluded[name]; ok {
			results = append(results, testResult{Name: name, Excluded: why})
			continue
		}
		res := r.runOne(name)
		fmt.Fprintf(stdout, "%-34s %s\n", name, progressLine(res))
		results = append(results, res)
	}
	if err := removeUnmounted(tmpDir); err != nil {
		fmt.Fprintln(stderr, "conformance:", err)
	}
	fmt.Fprintf(stdout, "\nsuite %s@%s, runtime %s; logs in %s\n", suiteModule, opts.version, opts.runtime, logDir)
	sum := summarize(results, list)
	sum.write(stdout, opts.details)
	if sum.Failed > 0 {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var filter string
	fs.StringVar(&o.runtime, "runtime", "bin/barco", "the runtime binary under test")
	fs.StringVar(&o.cacheDir, "cache", "tests/.cache/conformance", "where the suite is built and the logs are written")
	fs.StringVar(&o.goTool, "go", "go", "the go command that builds the suite")
	fs.StringVar(&o.version, "suite-version", suiteVersion, "the runtime-tools module version")
	fs.StringVar(&o.stateDir, "state-dir", "/run/barco", "the runtime's default --root, watched for containers a program leaves behind")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "the time one validation program may take")
	fs.StringVar(&filter, "run", "", "run only the programs whose name matches this regular expression")
	fs.IntVar(&o.details, "details", 25, "lines of detail shown for each failure")
	fs.BoolVar(&o.buildOnly, "build-only", false, "build the suite and exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if filter != "" {
		re, err := regexp.Compile(filter)
		if err != nil {
			return o, fmt.Errorf("-run: %w", err)
		}
		o.filter = re
	}
	var err error
	if o.runtime, err = filepath.Abs(o.runtime); err != nil {
		return o, err
	}
	if o.cacheDir, err = filepath.Abs(o.cacheDir); err != nil {
		return o, err
	}
	if !o.buildOnly {
		if fi, err := os.Stat(o.runtime); err != nil || fi.Mode()&0o111 == 0 {
			return o, fmt.Errorf("runtime %s is not an executable file", o.runtime)
		}
	}
	return o, nil
}

// knownBadHere is the known-bad list for this machine: the fixed list and
// the capabilities this process cannot pass on.
func knownBadHere() ([]knownBad, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	caps, err := ungrantableCapabilities(string(status), capability.ListKnown())
	if err != nil {
		return nil, err
	}
	return append(slices.Clip(knownBadList), caps...), nil
}

// testRunner runs validation programs one at a time: several of them use
// the same fixed cgroup path, so they cannot share the machine.
type testRunner struct {
	opts   options
	suite  suite
	logDir string
	tmpDir string // holds one scratch directory per program
	reaper *reaper
	log    io.Writer
}

// runOne runs one program and parses its TAP, then removes what it left
// behind: containers, processes and its scratch directory.
func (r testRunner) runOne(name string) testResult {
	res := testResult{Name: name}
	before := r.containers()
	outPath := filepath.Join(r.logDir, name+".tap")
	errPath := filepath.Join(r.logDir, name+".stderr")
	out, err := os.Create(outPath)
	if err != nil {
		res.Exit = err.Error()
		return res
	}
	defer out.Close()
	errFile, err := os.Create(errPath)
	if err != nil {
		res.Exit = err.Error()
		return res
	}
	defer errFile.Close()

	// The programs make their bundles in $TMPDIR and leave them behind
	// when they fail: each gets a directory of its own, removed after it.
	// It must be searchable by all: a container in a user namespace
	// reaches its bundle through it.
	tmp := filepath.Join(r.tmpDir, name)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		res.Exit = err.Error()
		return res
	}
	start := time.Now()
	p, err := r.reaper.start([]string{filepath.Join(r.suite.Dir, name)}, r.suite.Dir, r.env(tmp), out, errFile)
	if err != nil {
		res.Exit = err.Error()
		return res
	}
	ws, timedOut := p.wait(r.opts.timeout)
	res.Duration = time.Since(start)
	res.TimedOut = timedOut
	res.Exit = describeExit(ws)

	if tap, err := os.Open(outPath); err == nil {
		res.TAP, err = parseTAP(tap)
		tap.Close()
		if err != nil && res.Exit == "" {
			res.Exit = err.Error()
		}
	}
	if data, err := os.ReadFile(errPath); err == nil {
		res.Stderr = string(data)
	}
	res.Leaked = r.deleteLeaked(before)
	if n, err := r.reaper.killOrphans(10 * time.Second); err != nil || n > 0 {
		res.Orphans = n
		if err != nil {
			fmt.Fprintf(r.log, "conformance: %s: kill leftover processes: %v\n", name, err)
		}
	}
	if err := removeUnmounted(tmp); err != nil {
		fmt.Fprintf(r.log, "conformance: %s: %v\n", name, err)
	}
	return res
}

// removeUnmounted removes dir unless something is mounted below it: a
// recursive removal would go into the mounted filesystem.
func removeUnmounted(dir string) error {
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	if mounts := mountsBelow(string(info), dir); len(mounts) > 0 {
		return fmt.Errorf("left %s in place: %s is mounted", dir, mounts[0])
	}
	return os.RemoveAll(dir)
}

// mountsBelow returns the mount points in mountinfo that are dir or below
// it. Mount points are the fifth field, with spaces escaped as \040.
func mountsBelow(mountinfo, dir string) []string {
	var found []string
	for _, line := range strings.Split(mountinfo, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := strings.ReplaceAll(fields[4], `\040`, " ")
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	return found
}

// env is the programs' environment: the runner's own, with RUNTIME naming
// the runtime under test and TMPDIR the program's scratch directory.
func (r testRunner) env(tmp string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "RUNTIME=") || strings.HasPrefix(kv, "TMPDIR=")
	})
	return append(env, "RUNTIME="+r.opts.runtime, "TMPDIR="+tmp)
}

// containers lists the ids in the runtime's state directory.
func (r testRunner) containers() map[string]bool {
	ids := map[string]bool{}
	entries, _ := os.ReadDir(r.opts.stateDir) // no directory yet: no container
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids[e.Name()] = true
		}
	}
	return ids
}

// deleteLeaked force-deletes the containers that appeared since before and
// returns their ids. The programs delete their own containers, so this
// only acts after a timeout or a failed delete.
func (r testRunner) deleteLeaked(before map[string]bool) []string {
	var leaked []string
	for id := range r.containers() {
		if before[id] {
			continue
		}
		leaked = append(leaked, id)
		p, err := r.reaper.start([]string{r.opts.runtime, "delete", "--force", id}, "/", os.Environ(), os.Stderr, os.Stderr)
		if err != nil {
			fmt.Fprintf(r.log, "conformance: delete leaked container %s: %v\n", id, err)
			continue
		}
		if ws, timedOut := p.wait(30 * time.Second); timedOut || describeExit(ws) != "" {
			fmt.Fprintf(r.log, "conformance: delete leaked container %s: %s\n", id, describeExit(ws))
		}
	}
	slices.Sort(leaked)
	return leaked
}

// progressLine is the one-line outcome printed while the suite runs.
func progressLine(res testResult) string {
	var ok, notOK, skip int
	for _, a := range res.TAP.Assertions {
		switch a.Status {
		case statusPass:
			ok++
		case statusFail:
			notOK++
		default:
			skip++
		}
	}
	line := fmt.Sprintf("%3d ok %3d not ok %3d skip  %5.1fs", ok, notOK, skip, res.Duration.Seconds())
	if silentPass(res) {
		line += "  passed without TAP assertions"
	}
	for _, desc := range programFailures(res) {
		line += "  " + desc
	}
	if len(res.Leaked) > 0 {
		line += fmt.Sprintf("  (left %d containers behind)", len(res.Leaked))
	}
	if res.Orphans > 0 {
		line += fmt.Sprintf("  (left %d processes running)", res.Orphans)
	}
	return line
}
