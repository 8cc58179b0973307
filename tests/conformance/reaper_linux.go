package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reaper makes the runner the subreaper of everything it starts and reaps
// every child. Containers outlive the runtime command that created them,
// and PID 1 of this machine does not reap orphans: without a subreaper
// they would stay zombies, and the suite would see them as still running.
//
// Once a reaper runs, no other code of the process may wait for children
// (os/exec would lose its exit status to the reaper): every process is
// started through start.
type reaper struct {
	mu      sync.Mutex
	waiting map[int]chan syscall.WaitStatus
	wake    chan struct{} // a child was started, so wait4 has something to wait for
}

func newReaper() (*reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	r := &reaper{waiting: map[int]chan syscall.WaitStatus{}, wake: make(chan struct{}, 1)}
	go r.loop()
	return r, nil
}

// loop reaps children for ever. An orphan's status is dropped; a started
// process's status goes to whoever waits for it.
func (r *reaper) loop() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.ECHILD):
			select {
			case <-r.wake:
			case <-time.After(time.Second):
			}
			continue
		case err != nil:
			time.Sleep(10 * time.Millisecond)
			continue
		}
		r.mu.Lock()
		ch, ok := r.waiting[pid]
		delete(r.waiting, pid)
		r.mu.Unlock()
		if ok {
			ch <- ws
		}
	}
}

// process is a child started by the reaper, in a process group of its own.
type process struct {
	pid  int
	done <-chan syscall.WaitStatus
}

// start runs argv[0] (a path) with stdin from /dev/null and the given
// output files.
func (r *reaper) start(argv []string, dir string, env []string, stdout, stderr *os.File) (process, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return process{}, err
	}
	defer devnull.Close()
	ch := make(chan syscall.WaitStatus, 1)
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{devnull.Fd(), stdout.Fd(), stderr.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	// The lock is held across the fork so that the reaper, should it reap
	// a short-lived child first, finds it registered.
	r.mu.Lock()
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err == nil {
		r.waiting[pid] = ch
	}
	r.mu.Unlock()
	if err != nil {
		return process{}, fmt.Errorf("start %s: %w", argv[0], err)
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return process{pid: pid, done: ch}, nil
}

// wait waits up to timeout for p to exit. When the time is up it kills p's
// whole process group and reports timedOut.
func (p process) wait(timeout time.Duration) (ws syscall.WaitStatus, timedOut bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case ws = <-p.done:
		return ws, false
	case <-timer.C:
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	return <-p.done, true
}

// describeExit says how a process ended; "" for a zero exit status.
func describeExit(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return ""
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// killOrphans kills what the last program left running: every child of
// the runner that it is not waiting for. Being the subreaper, the runner
// inherits all orphans below it, so this reaches the helpers a program
// started and never stopped (and the containers nobody deleted), and
// nothing outside the runner's own tree. Children of a killed orphan are
// inherited in turn, hence the rounds. It returns how many it killed.
func (r *reaper) killOrphans(timeout time.Duration) (int, error) {
	killed := map[int]bool{}
	deadline := time.Now().Add(timeout)
	for {
		pids, err := childrenOf(os.Getpid())
		if err != nil {
			return len(killed), err
		}
		r.mu.Lock()
		pids = slices.DeleteFunc(pids, func(pid int) bool { _, ours := r.waiting[pid]; return ours })
		r.mu.Unlock()
		if len(pids) == 0 {
			return len(killed), nil
		}
		if time.Now().After(deadline) {
			return len(killed), fmt.Errorf("%d processes still left after %s", len(pids), timeout)
		}
		for _, pid := range pids {
			if !killed[pid] {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				killed[pid] = true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// childrenOf lists the live (not zombie) processes whose parent is ppid.
func childrenOf(ppid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if parent, state, ok := parseStat(string(data)); ok && parent == ppid && state != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// parseStat returns the parent pid and the state of a /proc/PID/stat line.
// The command name may hold spaces and parentheses, so the fields are
// counted from the last ')'.
func parseStat(stat string) (ppid int, state string, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, "", false
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 2 {
		return 0, "", false
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return 0, "", false
	}
	return ppid, fields[0], true
}
