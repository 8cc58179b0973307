package cgroups

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
)

// writeFile writes an existing cgroup interface file. Unlike os.WriteFile it
// never tries to create the file, so a missing one reports ENOENT. Plain
// system calls: os.OpenFile would register the file with Go's network
// poller (see internal/sysfile).
func writeFile(name, value string) error {
	fd, err := sysfile.Open(unix.AT_FDCWD, name, unix.O_WRONLY, name)
	if err != nil {
		return err
	}
	n, err := unix.Write(fd, []byte(value))
	for err == unix.EINTR {
		n, err = unix.Write(fd, []byte(value))
	}
	if err == nil && n != len(value) {
		err = io.ErrShortWrite
	}
	cerr := unix.Close(fd)
	if err != nil {
		return &os.PathError{Op: "write", Path: name, Err: err}
	}
	if cerr != nil {
		return &os.PathError{Op: "close", Path: name, Err: cerr}
	}
	return nil
}

// readFields returns the space-separated words of a file such as
// cgroup.controllers.
func readFields(name string) ([]string, error) {
	data, err := sysfile.Read(name)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(data)), nil
}

// descendants reads the number of live descendant cgroups of the cgroup
// directory dir from its cgroup.stat.
func descendants(dir string) (int, error) {
	data, err := sysfile.Read(dir + "/cgroup.stat")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "nr_descendants "); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("%s/cgroup.stat: no nr_descendants", dir)
}

// maxValue stands for "max" (no limit) in the numbers read from the cgroupfs.
const maxValue = ^uint64(0)

// parseUint parses a single-value file's content; "max" is maxValue.
func parseUint(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return maxValue, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// readUint reads a single-value file such as memory.current or pids.max.
func readUint(name string) (uint64, error) {
	data, err := sysfile.Read(name)
	if err != nil {
		return 0, err
	}
	v, err := parseUint(string(data))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// parseKeyValues parses a flat keyed file ("key value" lines: memory.stat,
// cpu.stat, memory.events).
func parseKeyValues(content string) (map[string]uint64, error) {
	kv := map[string]uint64{}
	for _, line := range strings.Split(content, "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("bad line %q", line)
		}
		n, err := parseUint(v)
		if err != nil {
			return nil, fmt.Errorf("bad value in line %q", line)
		}
		kv[k] = n
	}
	return kv, nil
}

func readKeyValues(name string) (map[string]uint64, error) {
	data, err := sysfile.Read(name)
	if err != nil {
		return nil, err
	}
	kv, err := parseKeyValues(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return kv, nil
}

// eventValue returns the value of key in the content of a cgroup.events file.
func eventValue(content, key string) (string, bool) {
	for _, line := range strings.Split(content, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return v, true
		}
	}
	return "", false
}

// errTimeout is returned by waitEvent when the deadline passes.
var errTimeout = errors.New("timed out")

// waitEvent waits until the cgroup.events file events has key = want. The
// kernel signals a change of that file as a modification, so inotify wakes
// us instead of a polling loop.
func waitEvent(events, key, want string, deadline time.Time) error {
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	defer unix.Close(ifd)
	if _, err := unix.InotifyAddWatch(ifd, events, unix.IN_MODIFY); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("watch %s: %w", events, os.ErrNotExist)
		}
		return fmt.Errorf("watch %s: %w", events, err)
	}
	buf := make([]byte, 4096)
	for {
		// Read after the watch is in place, so that no change is missed.
		data, err := sysfile.Read(events)
		if err != nil {
			return err
		}
		v, ok := eventValue(string(data), key)
		if !ok {
			return fmt.Errorf("%s: no %q field", events, key)
		}
		if v == want {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return errTimeout
		}
		pfd := []unix.PollFd{{Fd: int32(ifd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll inotify: %w", err)
		}
		for {
			if _, err := unix.Read(ifd, buf); err != nil {
				break // EAGAIN: drained
			}
		}
	}
}
