package criu

import (
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/rootfs"
)

// ExternalMount is a mount whose source lives outside the container, so
// criu cannot dump it: it records Cookie instead, and restore binds Source
// at Mountpoint again.
type ExternalMount struct {
	Mountpoint string // path inside the container
	Cookie     string // the key in the image
	Source     string // host path bound there on restore
}

// NullCookie is the key of every masked file: they are all the null device.
const NullCookie = "/dev/null"

// ExternalMounts lists the mounts of cfg that are external to the
// container: bind mounts of host paths and, in a user namespace, the device
// nodes bound from the host. Mountpoints are as configured; the caller
// resolves symlinks inside the rootfs. Masked files are not here: which
// masked paths are files is known only in the running container (see
// MaskedFileMount).
func ExternalMounts(cfg *configs.Config) []ExternalMount {
	var out []ExternalMount
	seen := map[string]bool{}
	add := func(dst, src string) {
		if seen[dst] {
			return
		}
		seen[dst] = true
		out = append(out, ExternalMount{Mountpoint: dst, Cookie: dst, Source: src})
	}
	devIsBind := false
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if m.IsBind() {
			add(m.Destination, m.Source)
			devIsBind = devIsBind || m.Destination == "/dev"
		}
	}
	// Without a user namespace the nodes are made with mknod and live in the
	// container's /dev tmpfs; criu dumps them with it.
	if _, userns := cfg.Namespace(configs.NEWUSER); userns && !devIsBind {
		for _, d := range append(append([]configs.Device{}, cfg.Devices...), rootfs.DefaultDevices...) {
			add(d.Path, d.Path)
		}
	}
	return out
}

// MaskedFileMount is the external mount of a masked file at path: the
// null device bound over it.
func MaskedFileMount(path string) ExternalMount {
	return ExternalMount{Mountpoint: path, Cookie: NullCookie, Source: "/dev/null"}
}
