package libbarco

import (
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

var nsFlags = map[configs.NamespaceType]uintptr{
	configs.NEWPID:    unix.CLONE_NEWPID,
	configs.NEWNET:    unix.CLONE_NEWNET,
	configs.NEWNS:     unix.CLONE_NEWNS,
	configs.NEWIPC:    unix.CLONE_NEWIPC,
	configs.NEWUTS:    unix.CLONE_NEWUTS,
	configs.NEWUSER:   unix.CLONE_NEWUSER,
	configs.NEWCGROUP: unix.CLONE_NEWCGROUP,
	configs.NEWTIME:   unix.CLONE_NEWTIME,
}

// cloneFlags splits the new namespaces of cfg into those created by clone
// and those the child unshares after clone. The cgroup namespace is
// unshared after the child landed in its cgroup (CLONE_INTO_CGROUP happens
// after namespaces are copied), so that its root is the container's cgroup.
// The time namespace is created later by the init itself, because its
// offsets must be written before any process enters it.
func cloneFlags(cfg *configs.Config) (clone, unshare uintptr) {
	for _, ns := range cfg.Namespaces {
		if ns.Path != "" {
			continue
		}
		switch ns.Type {
		case configs.NEWCGROUP:
			unshare |= nsFlags[ns.Type]
		case configs.NEWTIME:
		default:
			clone |= nsFlags[ns.Type]
		}
	}
	return clone, unshare
}

// setupTimeNamespace creates a time namespace for the container process
// (entered at its execve) and sets its clock offsets.
func setupTimeNamespace(offsets map[string]specs.LinuxTimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("unshare time namespace: %w", err)
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := writeProcFile("/proc/self/timens_offsets", timeOffsetsText(offsets)); err != nil {
		return fmt.Errorf("linux.timeOffsets: %w", err)
	}
	return nil
}

// timeOffsetsText renders offsets in the format of /proc/PID/timens_offsets.
func timeOffsetsText(offsets map[string]specs.LinuxTimeOffset) string {
	clocks := make([]string, 0, len(offsets))
	for c := range offsets {
		clocks = append(clocks, c)
	}
	sort.Strings(clocks)
	var b strings.Builder
	for _, c := range clocks {
		fmt.Fprintf(&b, "%s %d %d\n", c, offsets[c].Secs, offsets[c].Nanosecs)
	}
	return b.String()
}
