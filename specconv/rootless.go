package specconv

import (
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ToRootless turns a spec into one an unprivileged user with the given ids
// can run, as `runc spec --rootless` does: a user namespace mapping root to
// the user, no network namespace (the user cannot configure one), /sys
// bound from the host instead of a new sysfs (which needs a network
// namespace of the user's), no uid=/gid= mount options (those ids are not
// mapped), and no resource limits (the user's cgroup may not be delegated).
func ToRootless(spec *specs.Spec, uid, gid uint32) {
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.NetworkNamespace || ns.Type == specs.UserNamespace
	})
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		if filepath.Clean(m.Destination) == "/sys" {
			m.Type, m.Source = "none", "/sys"
			m.Options = []string{"rbind", "nosuid", "noexec", "nodev", "ro"}
			continue
		}
		m.Options = slices.DeleteFunc(m.Options, func(o string) bool {
			return strings.HasPrefix(o, "uid=") || strings.HasPrefix(o, "gid=")
		})
	}
	spec.Linux.Resources = nil
}
