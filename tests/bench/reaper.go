package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reaper starts every measured command and reaps every child of the
// harness, in one goroutine: the harness is a child subreaper, so a
// container init that its runtime leaves behind (create) becomes our child,
// and its CPU time reaches our RUSAGE_CHILDREN only once we reap it.
//
// Containers inits the harness knows of (from --pid-file) are tracked: while
// they live, their CPU time is read from their process CPU clock, so that a
// measurement never misses the work an init did before it exits.
type reaper struct {
	launcher string
	devnull  *os.File
	logDir   string
	timeout  time.Duration

	pending map[int]*launch
	tracked map[int]bool
	// reaped are the pids reaped since the last snapshot; pids are reused
	// quickly (pid_max may be 32768), so it is reset at every snapshot.
	reaped map[int]bool

	// Running totals that snapshots take differences of.
	launcherSelf time.Duration // CPU of the launchers themselves, not of their commands
	rssEvents    []int64       // peak RSS of every reaped command and orphan
}

// launch is one command run through the launcher, or directly.
type launch struct {
	pid    int
	name   string
	result *os.File // nil for a direct command
	begin  time.Duration
	errLog string
	timer  *time.Timer

	done bool
	res  launchResult
	err  error
}

func newReaper(launcher, logDir string, timeout time.Duration) (*reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become a child subreaper: %w", err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	return &reaper{
		launcher: launcher,
		devnull:  devnull,
		logDir:   logDir,
		timeout:  timeout,
		pending:  map[int]*launch{},
		tracked:  map[int]bool{},
		reaped:   map[int]bool{},
	}, nil
}

// start runs argv through the launcher, stdin and stdout on /dev/null and
// stderr to a log file named after name. The launcher gets a process group
// of its own so that a timeout kills it and the runtime together.
func (r *reaper) start(name string, argv []string) (*launch, error) {
	return r.spawn(name, argv, false)
}

// startDirect runs argv as a direct child, without the launcher: it saves
// the launcher's execve where many commands run at once, at the price of a
// peak RSS that includes the harness's and is therefore not recorded.
func (r *reaper) startDirect(name string, argv []string) (*launch, error) {
	return r.spawn(name, argv, true)
}

func (r *reaper) spawn(name string, argv []string, direct bool) (*launch, error) {
	errLog := filepath.Join(r.logDir, name+".stderr")
	ef, err := os.OpenFile(errLog, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	files := []uintptr{r.devnull.Fd(), r.devnull.Fd(), ef.Fd()}
	path := argv[0]
	var pr *os.File
	if !direct {
		var pw *os.File
		if pr, pw, err = os.Pipe(); err != nil {
			return nil, err
		}
		defer pw.Close()
		files = append(files, pw.Fd())
		path = r.launcher
		argv = append([]string{r.launcher}, argv...)
	}
	attr := &syscall.ProcAttr{
		Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	begin := monotonic()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		if pr != nil {
			pr.Close()
		}
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	l := &launch{pid: pid, name: name, result: pr, begin: begin, errLog: errLog}
	l.timer = time.AfterFunc(r.timeout, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	r.pending[pid] = l
	return l, nil
}

// next blocks until one child is reaped and returns its launch, or nil for
// any other child (an orphan).
func (r *reaper) next() (*launch, error) {
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, 0, &ru)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wait4: %w", err)
		}
		return r.reaped1(pid, ws, &ru), nil
	}
}

// drain reaps every child that has already exited, without blocking.
func (r *reaper) drain() {
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		r.reaped1(pid, ws, &ru)
	}
}

func (r *reaper) reaped1(pid int, ws syscall.WaitStatus, ru *syscall.Rusage) *launch {
	r.reaped[pid] = true
	l, ok := r.pending[pid]
	if !ok {
		delete(r.tracked, pid)
		r.rssEvents = append(r.rssEvents, ru.Maxrss*1024)
		return nil
	}
	delete(r.pending, pid)
	l.timer.Stop()
	l.done = true
	total := rusageCPU(ru)
	if l.result == nil {
		l.res = launchResult{status: ws, begin: l.begin, end: monotonic(), cpu: total}
		if msg := describeStatus(ws); msg != "" {
			l.err = fmt.Errorf("%s: %s%s", l.name, msg, l.stderrTail())
		}
		return l
	}
	l.err = l.finish(ws)
	if l.err != nil {
		// Without the report the launcher's own share is unknown; a
		// failed measurement is discarded anyway.
		return l
	}
	r.launcherSelf += total - l.res.cpu
	r.rssEvents = append(r.rssEvents, l.res.maxRSS)
	return l
}

// finish reads the launcher's report and checks the command succeeded.
func (l *launch) finish(ws syscall.WaitStatus) error {
	defer l.result.Close()
	if msg := describeStatus(ws); msg != "" {
		return fmt.Errorf("%s: launcher %s%s", l.name, msg, l.stderrTail())
	}
	line, err := io.ReadAll(l.result)
	if err != nil {
		return fmt.Errorf("%s: read the launcher's result: %w", l.name, err)
	}
	if l.res, err = parseLaunchResult(string(line)); err != nil {
		return fmt.Errorf("%s: %w", l.name, err)
	}
	if msg := describeStatus(l.res.status); msg != "" {
		return fmt.Errorf("%s: %s%s", l.name, msg, l.stderrTail())
	}
	return nil
}

// stderrTail is the end of the command's stderr, for error messages.
func (l *launch) stderrTail() string {
	b, _ := os.ReadFile(l.errLog)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	if s == "" {
		return ""
	}
	return ": " + s
}

// wait reaps children until l is done.
func (r *reaper) wait(l *launch) error {
	for !l.done {
		if _, err := r.next(); err != nil {
			return err
		}
	}
	return l.err
}

// run starts argv and waits for it.
func (r *reaper) run(name string, argv []string) (*launch, error) {
	l, err := r.start(name, argv)
	if err != nil {
		return nil, err
	}
	return l, r.wait(l)
}

// track adds a container init that has become (or will become) our child.
// It reports false when pid was reaped already in this measurement.
func (r *reaper) track(pid int) bool {
	if r.reaped[pid] {
		return false
	}
	r.tracked[pid] = true
	return true
}

// waitExit reaps children until the tracked pid is gone, killing it when it
// has not exited within the timeout.
func (r *reaper) waitExit(pid int) error {
	if !r.tracked[pid] {
		return nil
	}
	t := time.AfterFunc(r.timeout, func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	defer t.Stop()
	for r.tracked[pid] {
		if _, err := r.next(); err != nil {
			return fmt.Errorf("wait for pid %d: %w", pid, err)
		}
	}
	return nil
}

// snapshot is the state of the accounting at one instant.
type snapshot struct {
	at           time.Time
	children     time.Duration         // RUSAGE_CHILDREN of the harness
	launcherSelf time.Duration         // reaper.launcherSelf
	live         map[int]time.Duration // CPU so far of every tracked init
	rssEvents    int                   // len(reaper.rssEvents)
}

// snapshot reaps what has exited and reads the counters. A tracked init
// whose CPU clock cannot be read is on its way out: it is reaped first, so
// that its time is in the children's total instead.
func (r *reaper) snapshot() (snapshot, error) {
	for attempt := 0; ; attempt++ {
		r.drain()
		s := snapshot{at: time.Now(), launcherSelf: r.launcherSelf, rssEvents: len(r.rssEvents), live: map[int]time.Duration{}}
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
			return s, fmt.Errorf("getrusage: %w", err)
		}
		s.children = rusageCPU(&ru)
		gone := -1
		for pid := range r.tracked {
			cpu, err := processCPU(pid)
			if err != nil {
				gone = pid
				break
			}
			s.live[pid] = cpu
		}
		if gone < 0 {
			clear(r.reaped)
			return s, nil
		}
		if attempt > 100 {
			return s, fmt.Errorf("pid %d: CPU clock unreadable and not reaped", gone)
		}
		if err := r.waitExit(gone); err != nil {
			return s, err
		}
	}
}

// cost is what the children of the harness spent between two snapshots:
// CPU of everything reaped (launchers excluded), plus what tracked inits
// that still live spent, minus what inits alive at the start had spent
// before it.
func cost(a, b snapshot) time.Duration {
	cpu := (b.children - a.children) - (b.launcherSelf - a.launcherSelf)
	for _, c := range b.live {
		cpu += c
	}
	for _, c := range a.live {
		cpu -= c
	}
	return cpu
}

// peakRSS is the largest peak RSS of any command or orphan reaped between
// the snapshots and of any tracked init that appeared in between.
func (r *reaper) peakRSS(a, b snapshot) int64 {
	var peak int64
	for _, v := range r.rssEvents[a.rssEvents:b.rssEvents] {
		peak = max(peak, v)
	}
	for pid := range b.live {
		if _, old := a.live[pid]; old {
			continue
		}
		if st, err := readProcStatus(pid); err == nil {
			peak = max(peak, st.hwm)
		}
	}
	return peak
}

func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU reads the CPU clock of another process: user+sys of all its
// threads, to the nanosecond, where /proc/PID/stat counts clock ticks.
func processCPU(pid int) (time.Duration, error) {
	// The clock id of a process's CPUCLOCK_SCHED clock, as glibc's
	// clock_getcpuclockid makes it.
	id := int32(^uint32(pid)<<3 | 2)
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		return 0, fmt.Errorf("cpu clock of %d: %w", pid, err)
	}
	return time.Duration(ts.Nano()), nil
}
