package specconv

import (
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
)

func convertDevices(spec *specs.Spec, c *configs.Config) error {
	seen := make(map[string]bool, len(spec.Linux.Devices))
	for i, d := range spec.Linux.Devices {
		p := index("linux.devices", i)
		if d.Path == "" {
			return fieldErr(p+".path", "required")
		}
		if !filepath.IsAbs(d.Path) {
			return fieldErr(p+".path", "%q must be absolute", d.Path)
		}
		path := filepath.Clean(d.Path)
		if seen[path] {
			return fieldErr(p+".path", "duplicate device %q", path)
		}
		seen[path] = true
		dev := configs.Device{Path: path, FileMode: 0o666}
		switch d.Type {
		case "c", "b", "u":
			// Go cannot tell an absent number from 0, but 0:0 is never a
			// real device (as a character device it is an overlayfs
			// whiteout), so it stands for "missing".
			if d.Major == 0 && d.Minor == 0 {
				return fieldErr(p, "major and minor are required for type %q", d.Type)
			}
		case "p":
			// A fifo has no device numbers: any given are ignored.
			d.Major, d.Minor = 0, 0
		default:
			return fieldErr(p+".type", "unknown device type %q (want c, b, u or p)", d.Type)
		}
		dev.Type = rune(d.Type[0])
		if d.Major < 0 || d.Major > 0xfff {
			return fieldErr(p+".major", "%d is out of range", d.Major)
		}
		if d.Minor < 0 || d.Minor > 0xfffff {
			return fieldErr(p+".minor", "%d is out of range", d.Minor)
		}
		dev.Major, dev.Minor = d.Major, d.Minor
		if d.FileMode != nil {
			// Only permission bits: the file type comes from Type, and
			// setuid bits on a device node serve no purpose.
			dev.FileMode = uint32(*d.FileMode) & 0o777
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		c.Devices = append(c.Devices, dev)
	}
	return nil
}
