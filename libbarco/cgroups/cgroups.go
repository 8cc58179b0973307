// Package cgroups manages the cgroup v2 (unified hierarchy) of a container
// through the cgroupfs: finding the cgroup2 mount, resolving
// linux.cgroupsPath, creating the cgroup so that init can be cloned straight
// into it, killing and removing it, and checking that the controllers the
// container's resources need are offered by the hierarchy.
//
// barco supports cgroup v2 only. On hybrid hosts it uses the cgroup2 mount
// alone and never writes into the v1 hierarchies.
package cgroups

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
)

// ErrNoCgroup2 is returned by FindMount when no cgroup2 filesystem is mounted.
var ErrNoCgroup2 = errors.New("no cgroup2 mount found (barco needs cgroup v2)")

// preferredMount is where a pure cgroup v2 host mounts the hierarchy; it wins
// when the hierarchy is mounted more than once (e.g. also inside a chroot).
const preferredMount = "/sys/fs/cgroup"

// FindMount returns the mount point of the cgroup2 filesystem. Unless
// /sys/fs/cgroup is one (checked with statfs), it reads the mount table:
// hybrid hosts mount cgroup2 elsewhere (typically /sys/fs/cgroup/unified).
func FindMount() (string, error) {
	// The common case needs no mount table: the preferred mount point
	// holds a cgroup2 filesystem, and would win in the table too.
	var st unix.Statfs_t
	if unix.Statfs(preferredMount, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return preferredMount, nil
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup2"))
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	return pickMount(mounts)
}

func pickMount(mounts []*mountinfo.Info) (string, error) {
	if len(mounts) == 0 {
		return "", ErrNoCgroup2
	}
	for _, m := range mounts {
		if m.Mountpoint == preferredMount {
			return m.Mountpoint, nil
		}
	}
	return mounts[0].Mountpoint, nil
}

// OwnPath returns the cgroup v2 path of the calling process, relative to the
// cgroup2 root (as seen from its cgroup namespace).
func OwnPath() (string, error) {
	data, err := sysfile.Read("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	p, err := parseOwnPath(string(data))
	if err != nil {
		return "", fmt.Errorf("/proc/self/cgroup: %w", err)
	}
	return p, nil
}

// parseOwnPath extracts the path of the "0::" line of a /proc/PID/cgroup
// file; on hybrid hosts the v1 lines around it are ignored.
func parseOwnPath(content string) (string, error) {
	for _, line := range strings.Split(content, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[0] != "0" || parts[1] != "" {
			continue
		}
		if !strings.HasPrefix(parts[2], "/") {
			return "", fmt.Errorf("cgroup v2 path %q is not absolute", parts[2])
		}
		return parts[2], nil
	}
	return "", errors.New(`no cgroup v2 ("0::") entry`)
}
