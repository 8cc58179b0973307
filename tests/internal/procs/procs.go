// Package procs is what the test suites share for living with processes
// they do not wait for themselves: a test binary that starts runtimes
// becomes the parent of every container they leave behind (it is a child
// subreaper, and this machine's PID 1 reaps nothing), so it reaps them, and
// it lists processes to find leftovers.
package procs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Proc is one process, as /proc shows it.
type Proc struct {
	PID     int
	PPID    int
	State   string // as in /proc/PID/stat: R, S, Z, ...
	Cmdline string // arguments joined by spaces
}

// Processes lists every process in /proc. Processes that exit while being
// read are skipped.
func Processes() []Proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := read(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// Children lists the calling process's children. /proc is scanned because
// /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN.
func Children() []Proc {
	self := os.Getpid()
	var out []Proc
	for _, p := range Processes() {
		if p.PPID == self {
			out = append(out, p)
		}
	}
	return out
}

func read(pid int) (Proc, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Proc{}, false
	}
	// The command name may hold spaces and parentheses; "state ppid ..."
	// follow the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Proc{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return Proc{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Proc{}, false
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return Proc{PID: pid, PPID: ppid, State: f[0], Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))}, true
}

// Reaper waits for orphans re-parented to the test binary, but never for
// the commands the tests run themselves: exec.Cmd.Wait must get their exit
// status.
type Reaper struct {
	mu      sync.Mutex
	running map[int]bool // PIDs of started, not yet waited commands
	quit    chan struct{}
	done    chan struct{}
}

// NewReaper makes the calling process a child subreaper and starts
// reaping its zombie children every 100 ms.
func NewReaper() (*Reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	r := &Reaper{running: map[int]bool{}, quit: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r, nil
}

func (r *Reaper) loop() {
	defer close(r.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.quit:
			r.reapOnce()
			return
		case <-tick.C:
			r.reapOnce()
		}
	}
}

// Stop reaps a last time and ends the loop.
func (r *Reaper) Stop() {
	close(r.quit)
	<-r.done
}

// reapOnce waits for every zombie child that is not a running command. The
// lock is held while listing and waiting, so a command being started is
// registered before its PID can be looked at.
func (r *Reaper) reapOnce() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range Children() {
		if p.State != "Z" || r.running[p.PID] {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(p.PID, &ws, unix.WNOHANG, nil)
	}
}

// Start starts cmd and records it as one the reaper must leave alone.
func (r *Reaper) Start(cmd *exec.Cmd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.running[cmd.Process.Pid] = true
	return nil
}

// Wait waits for cmd and hands its PID back to the reaper.
func (r *Reaper) Wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	r.mu.Lock()
	delete(r.running, cmd.Process.Pid)
	r.mu.Unlock()
	return err
}

// Untracked lists live children that are not commands being run:
// containers (or runtime helpers) that were re-parented to us.
func (r *Reaper) Untracked() []Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Proc
	for _, p := range Children() {
		if !r.running[p.PID] && p.State != "Z" {
			out = append(out, p)
		}
	}
	return out
}
