package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

// DefaultDevices are the nodes every container gets in /dev, as the
// runtime-spec requires.
var DefaultDevices = []configs.Device{
	{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, FileMode: 0o666},
	{Path: "/dev/zero", Type: 'c', Major: 1, Minor: 5, FileMode: 0o666},
	{Path: "/dev/full", Type: 'c', Major: 1, Minor: 7, FileMode: 0o666},
	{Path: "/dev/random", Type: 'c', Major: 1, Minor: 8, FileMode: 0o666},
	{Path: "/dev/urandom", Type: 'c', Major: 1, Minor: 9, FileMode: 0o666},
	{Path: "/dev/tty", Type: 'c', Major: 5, Minor: 0, FileMode: 0o666},
}

// devSymlinks are the links runtime-spec lists for /dev.
var devSymlinks = [][2]string{
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
}

// createDevices makes the default and configured device nodes. In a user
// namespace mknod is not allowed, so the host's nodes are bind-mounted.
func createDevices(root *os.File, devs []configs.Device, inUserNS bool) error {
	seen := map[string]bool{}
	all := append(append([]configs.Device{}, devs...), DefaultDevices...)
	for i := range all {
		d := &all[i]
		if seen[d.Path] {
			continue // a configured device overrides the default one
		}
		seen[d.Path] = true
		var err error
		if inUserNS {
			err = bindDevice(root, d)
		} else {
			err = mknodDevice(root, d)
		}
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	return nil
}

func mknodDevice(root *os.File, d *configs.Device) error {
	parent, err := mkdirAllInRoot(root, filepath.Dir(d.Path), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	mode := d.FileMode & 0o7777
	switch d.Type {
	case 'c', 'u':
		mode |= unix.S_IFCHR
	case 'b':
		mode |= unix.S_IFBLK
	case 'p':
		mode |= unix.S_IFIFO
	default:
		return fmt.Errorf("unknown device type %q", d.Type)
	}
	base := filepath.Base(d.Path)
	dev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	pfd := int(parent.Fd())
	err = unix.Mknodat(pfd, base, mode, dev)
	if errors.Is(err, unix.EEXIST) {
		// Replace whatever the image shipped with the node asked for.
		if err := unix.Unlinkat(pfd, base, 0); err != nil {
			return err
		}
		err = unix.Mknodat(pfd, base, mode, dev)
	}
	if err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	// mknod honours the umask; set the exact mode and owner.
	if err := unix.Fchmodat(pfd, base, d.FileMode&0o7777, 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := unix.Fchownat(pfd, base, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

func bindDevice(root *os.File, d *configs.Device) error {
	target, err := OpenTarget(root, d.Path, false)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Mount(d.Path, fdPath(target), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind host device: %w", err)
	}
	return nil
}

// createDevSymlinks makes /dev/fd, /dev/std* and, when /dev/pts is a devpts
// instance, /dev/ptmx pointing at its multiplexer.
func createDevSymlinks(root *os.File, withPtmx bool) error {
	links := devSymlinks
	if withPtmx {
		links = append(links[:len(links):len(links)], [2]string{"pts/ptmx", "/dev/ptmx"})
	}
	dev, err := mkdirAllInRoot(root, "/dev", 0o755)
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dev.Close()
	for _, l := range links {
		name := filepath.Base(l[1])
		if name == "ptmx" {
			// The tmpfs may already hold a ptmx node: replace it.
			_ = unix.Unlinkat(int(dev.Fd()), name, 0)
		}
		if err := unix.Symlinkat(l[0], int(dev.Fd()), name); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	return nil
}
