package specconv

import (
	"maps"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/netdev"
)

func convertNamespaces(spec *specs.Spec, c *configs.Config) error {
	seen := make(map[configs.NamespaceType]bool)
	for i, ns := range spec.Linux.Namespaces {
		p := index("linux.namespaces", i)
		t := configs.NamespaceType(ns.Type)
		if !slices.Contains(configs.AllNamespaces, t) {
			return fieldErr(p+".type", "unknown namespace %q", ns.Type)
		}
		if seen[t] {
			return fieldErr(p+".type", "duplicate namespace %q", ns.Type)
		}
		seen[t] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fieldErr(p+".path", "%q must be absolute", ns.Path)
		}
		c.Namespaces = append(c.Namespaces, configs.Namespace{Type: t, Path: ns.Path})
	}
	return nil
}

// convertIDMappings applies the user namespace rules: mappings need a user
// namespace to go into, and a new one is useless (every id is nobody)
// without both maps.
func convertIDMappings(spec *specs.Spec, c *configs.Config) error {
	uids, err := idMaps("linux.uidMappings", spec.Linux.UIDMappings)
	if err != nil {
		return err
	}
	gids, err := idMaps("linux.gidMappings", spec.Linux.GIDMappings)
	if err != nil {
		return err
	}
	if _, ok := c.Namespace(configs.NEWUSER); !ok {
		if len(uids) > 0 {
			return fieldErr("linux.uidMappings", "requires a user namespace")
		}
		if len(gids) > 0 {
			return fieldErr("linux.gidMappings", "requires a user namespace")
		}
	}
	if c.NewNamespace(configs.NEWUSER) {
		if len(uids) == 0 {
			return fieldErr("linux.uidMappings", "required by a new user namespace")
		}
		if len(gids) == 0 {
			return fieldErr("linux.gidMappings", "required by a new user namespace")
		}
	}
	c.UIDMappings, c.GIDMappings = uids, gids
	return nil
}

func idMaps(field string, in []specs.LinuxIDMapping) ([]configs.IDMap, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]configs.IDMap, 0, len(in))
	for i, m := range in {
		if m.Size == 0 {
			return nil, fieldErr(index(field, i)+".size", "must be greater than 0")
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return nil, fieldErr(index(field, i)+".size", "range overflows 32-bit ids")
		}
		out = append(out, configs.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out, nil
}

// convertTimeOffsets: offsets can only be written into a time namespace
// that has no process yet, i.e. a new one.
func convertTimeOffsets(spec *specs.Spec, c *configs.Config) error {
	offsets := spec.Linux.TimeOffsets
	if len(offsets) == 0 {
		return nil
	}
	if !c.NewNamespace(configs.NEWTIME) {
		return fieldErr("linux.timeOffsets", "requires a new time namespace")
	}
	c.TimeOffsets = make(map[string]specs.LinuxTimeOffset, len(offsets))
	for _, clock := range slices.Sorted(maps.Keys(offsets)) {
		off := offsets[clock]
		if clock != "monotonic" && clock != "boottime" {
			return fieldErr("linux.timeOffsets", "unknown clock %q (want monotonic or boottime)", clock)
		}
		if off.Nanosecs >= 1e9 {
			return fieldErr("linux.timeOffsets."+clock+".nanosecs", "%d is not below one second", off.Nanosecs)
		}
		c.TimeOffsets[clock] = off
	}
	return nil
}

// checkUTS: setting the name of a shared (host or joined) uts namespace
// would rename someone else's machine.
// checkUTS allows a hostname only in a uts namespace of the container:
// a new one, or one joined by path (a pod's), never the host's.
func checkUTS(_ *specs.Spec, c *configs.Config) error {
	if _, ok := c.Namespace(configs.NEWUTS); ok {
		return nil
	}
	if c.Hostname != "" {
		return fieldErr("hostname", "requires a uts namespace of the container's")
	}
	if c.Domainname != "" {
		return fieldErr("domainname", "requires a uts namespace of the container's")
	}
	return nil
}

// propagationFlags maps a runtime-spec propagation name to mount(2) flags.
func propagationFlags(name string) (uint64, bool) {
	switch name {
	case "private":
		return unix.MS_PRIVATE, true
	case "rprivate":
		return unix.MS_PRIVATE | unix.MS_REC, true
	case "slave":
		return unix.MS_SLAVE, true
	case "rslave":
		return unix.MS_SLAVE | unix.MS_REC, true
	case "shared":
		return unix.MS_SHARED, true
	case "rshared":
		return unix.MS_SHARED | unix.MS_REC, true
	case "unbindable":
		return unix.MS_UNBINDABLE, true
	case "runbindable":
		return unix.MS_UNBINDABLE | unix.MS_REC, true
	}
	return 0, false
}

// convertPropagation defaults to rslave: host mounts still reach the
// container, but nothing the container mounts leaks back to the host.
func convertPropagation(spec *specs.Spec, c *configs.Config) error {
	mode := spec.Linux.RootfsPropagation
	if mode == "" {
		c.RootPropagation = unix.MS_SLAVE | unix.MS_REC
		return nil
	}
	flags, ok := propagationFlags(mode)
	if !ok {
		return fieldErr("linux.rootfsPropagation", "unknown propagation %q", mode)
	}
	c.RootPropagation = flags
	return nil
}

// convertNetDevices checks the devices to move into the container's
// network namespace, which the container must have (new or joined), and
// their names, as the kernel would check them. Two devices may not ask for
// the same name in the container, unless a "%d" template lets the kernel
// number them.
func convertNetDevices(spec *specs.Spec, c *configs.Config) error {
	devs := spec.Linux.NetDevices
	if len(devs) == 0 {
		return nil
	}
	if _, ok := c.Namespace(configs.NEWNET); !ok {
		return fieldErr("linux.netDevices", "requires a network namespace (linux.namespaces has no \"network\")")
	}
	taken := map[string]string{}
	for _, host := range slices.Sorted(maps.Keys(devs)) {
		p := "linux.netDevices[" + host + "]"
		if err := netdev.CheckName(host, false); err != nil {
			return fieldErr(p, "%v", err)
		}
		name := devs[host].Name
		target := name
		if target == "" {
			target = host
		} else if err := netdev.CheckName(name, true); err != nil {
			return fieldErr(p+".name", "%v", err)
		}
		if other, dup := taken[target]; dup && !netdev.IsTemplate(target) {
			return fieldErr(p, "%q is also the name of linux.netDevices[%s] in the container", target, other)
		}
		taken[target] = host
		c.NetDevices = append(c.NetDevices, configs.NetDevice{HostName: host, Name: name})
	}
	return nil
}
