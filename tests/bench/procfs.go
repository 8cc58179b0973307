package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procStatus holds the memory lines of /proc/PID/status, in bytes.
type procStatus struct {
	rss  int64 // VmRSS
	hwm  int64 // VmHWM, the peak RSS
	anon int64 // RssAnon: the part of VmRSS no other process shares through the page cache
}

func readProcStatus(pid int) (procStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	return parseProcStatus(b)
}

// parseProcStatus reads VmRSS, VmHWM and RssAnon ("VmRSS:	  1234 kB"). A
// process without memory (a zombie, a kernel thread) has none: that is an
// error.
func parseProcStatus(b []byte) (procStatus, error) {
	var st procStatus
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM" && key != "RssAnon") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return st, fmt.Errorf("status line %q: want a size in kB", sc.Text())
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return st, fmt.Errorf("status line %q: %w", sc.Text(), err)
		}
		switch key {
		case "VmRSS":
			st.rss = n * 1024
		case "VmHWM":
			st.hwm = n * 1024
		default:
			st.anon = n * 1024
		}
		found++
	}
	if found != 3 {
		return st, fmt.Errorf("no VmRSS, VmHWM and RssAnon lines")
	}
	return st, nil
}

// cgroupMemory is the resident memory of every process in a cgroup: what a
// created container holds, whichever processes its runtime left there. The
// sum's hwm is meaningless and left zero.
func cgroupMemory(dir string) (procStatus, int, error) {
	var total procStatus
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return total, 0, err
	}
	n := 0
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return total, 0, fmt.Errorf("%s/cgroup.procs: %q is not a pid", dir, f)
		}
		st, err := readProcStatus(pid)
		if err != nil {
			return total, 0, err
		}
		total.rss += st.rss
		total.anon += st.anon
		n++
	}
	return total, n, nil
}

// readPidFile reads a --pid-file.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: %q is not a pid", path, b)
	}
	return pid, nil
}
