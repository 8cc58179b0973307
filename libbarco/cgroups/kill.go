package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// killTimeout bounds Kill as a whole: signalling and waiting for the cgroup
// to empty.
const killTimeout = 5 * time.Second

// Kill sends SIGKILL to every process of the cgroup and its descendants and
// returns once the cgroup is empty. The processes are not reaped: their
// parents (or a subreaper) must still wait for them.
func (m *Manager) Kill() error {
	if err := m.check(); err != nil {
		return err
	}
	deadline := time.Now().Add(killTimeout)
	err := writeFile(filepath.Join(m.Dir(), "cgroup.kill"), "1")
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && !m.Exists():
		return nil
	case errors.Is(err, fs.ErrNotExist):
		// cgroup.kill is new in Linux 5.14.
		if err := m.killEach(deadline); err != nil {
			return err
		}
	default:
		return fmt.Errorf("kill cgroup %s: %w", m.Path, err)
	}
	return m.waitEmpty(deadline)
}

// killEach signals the processes one by one until none is left, for kernels
// without cgroup.kill. It loops because a process may fork between the
// listing and the signal.
func (m *Manager) killEach(deadline time.Time) error {
	for {
		pids, err := m.Procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kill cgroup %s: %d processes still there after %s", m.Path, len(pids), killTimeout)
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("kill cgroup %s: pid %d: %w", m.Path, pid, err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitEmpty waits until cgroup.events reports "populated 0". The kernel
// signals a change of that file as a modification, so inotify wakes us
// instead of a polling loop.
func (m *Manager) waitEmpty(deadline time.Time) error {
	events := filepath.Join(m.Dir(), "cgroup.events")
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	defer unix.Close(ifd)
	if _, err := unix.InotifyAddWatch(ifd, events, unix.IN_MODIFY); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("watch %s: %w", events, err)
	}
	buf := make([]byte, 4096)
	for {
		// Read after the watch is in place, so that no change is missed.
		populated, err := readPopulated(events)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !populated {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("kill cgroup %s: still populated after %s", m.Path, killTimeout)
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

func readPopulated(events string) (bool, error) {
	data, err := os.ReadFile(events)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return v != "0", nil
		}
	}
	return false, fmt.Errorf("%s: no populated field", events)
}

// writeFile writes an existing cgroup interface file. Unlike os.WriteFile it
// never tries to create the file, so a missing one reports ENOENT.
func writeFile(name, value string) error {
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
