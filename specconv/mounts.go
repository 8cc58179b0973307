package specconv

import (
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

func convertMounts(spec *specs.Spec, c *configs.Config) error {
	if len(spec.Mounts) == 0 {
		return nil
	}
	c.Mounts = make([]configs.Mount, 0, len(spec.Mounts))
	for i, m := range spec.Mounts {
		mnt, err := convertMount(index("mounts", i), m, c.Bundle)
		if err != nil {
			return err
		}
		c.Mounts = append(c.Mounts, mnt)
	}
	return nil
}

func convertMount(path string, m specs.Mount, bundle string) (configs.Mount, error) {
	if m.Destination == "" {
		return configs.Mount{}, fieldErr(path+".destination", "required")
	}
	// runc still accepts relative destinations with a warning; the spec has
	// required absolute ones since 1.0, and guessing what they are relative
	// to hides mistakes.
	if !filepath.IsAbs(m.Destination) {
		return configs.Mount{}, fieldErr(path+".destination", "%q must be absolute", m.Destination)
	}
	mnt, idmap := parseMountOptions(m.Options)
	mnt.Destination = filepath.Clean(m.Destination)
	mnt.Source = m.Source
	mnt.Type = m.Type
	if m.Type == "bind" {
		mnt.Flags |= unix.MS_BIND
	}
	if mnt.IsBind() {
		// The type is meaningless to the kernel for a bind mount; naming it
		// "bind" lets later stages and logs tell bind mounts apart.
		mnt.Type = "bind"
		if m.Source == "" {
			return configs.Mount{}, fieldErr(path+".source", "required for a bind mount")
		}
		if !filepath.IsAbs(m.Source) {
			mnt.Source = filepath.Join(bundle, m.Source)
		}
	} else if m.Type == "" {
		return configs.Mount{}, fieldErr(path+".type", "required for a mount that is not a bind mount")
	}
	if mnt.TmpCopyUp && mnt.Type != "tmpfs" {
		return configs.Mount{}, fieldErr(path+".options", `"tmpcopyup" requires type "tmpfs", not %q`, mnt.Type)
	}
	var err error
	if mnt.UIDMappings, err = idMaps(path+".uidMappings", m.UIDMappings); err != nil {
		return configs.Mount{}, err
	}
	if mnt.GIDMappings, err = idMaps(path+".gidMappings", m.GIDMappings); err != nil {
		return configs.Mount{}, err
	}
	// Mappings alone also ask for an idmapped mount, as in runc.
	if idmap != "" || len(mnt.UIDMappings) > 0 || len(mnt.GIDMappings) > 0 {
		why := "by an idmapped mount"
		if idmap != "" {
			why = fmt.Sprintf("by the %q option", idmap)
		}
		if len(mnt.UIDMappings) == 0 {
			return configs.Mount{}, fieldErr(path+".uidMappings", "required %s", why)
		}
		if len(mnt.GIDMappings) == 0 {
			return configs.Mount{}, fieldErr(path+".gidMappings", "required %s", why)
		}
		// The kernel idmaps only detached mounts, which come from open_tree(2)
		// of an existing path: a bind mount.
		if !mnt.IsBind() {
			return configs.Mount{}, fieldErr(path, "an idmapped mount must be a bind mount")
		}
		mnt.IDMapRecursive = idmap == "ridmap"
	}
	return mnt, nil
}

// parseMountOptions splits fstab-style options into mount(2) flags,
// propagation changes, mount_setattr(2) recursive attributes, barco
// extensions and filesystem data. Options apply in order, so "nodev,dev"
// ends with dev. Anything unknown is filesystem data, for the kernel to
// judge. idmap reports "idmap" or "ridmap" if either was given.
func parseMountOptions(options []string) (mnt configs.Mount, idmap string) {
	var data []string
	for _, opt := range options {
		if opt == "" || opt == "defaults" {
			continue
		}
		if flag, clear, ok := mountFlag(opt); ok {
			if clear {
				mnt.Flags &^= flag
				mnt.ClearFlags |= flag
			} else {
				mnt.Flags |= flag
				mnt.ClearFlags &^= flag
			}
			continue
		}
		if flag, ok := propagationFlags(opt); ok {
			mnt.PropagationFlags = append(mnt.PropagationFlags, flag)
			continue
		}
		if attr, clear, ok := recursiveAttr(opt); ok {
			if clear {
				mnt.RecAttrClr |= attr
				mnt.RecAttrSet &^= attr
			} else {
				mnt.RecAttrSet |= attr
				mnt.RecAttrClr &^= attr
			}
			continue
		}
		if mode, ok := recursiveAtime(opt); ok {
			// The atime modes are values in a field, not bits: the kernel
			// wants the whole field cleared whenever one of them is set.
			mnt.RecAttrClr |= unix.MOUNT_ATTR__ATIME
			mnt.RecAttrSet = mnt.RecAttrSet&^unix.MOUNT_ATTR__ATIME | mode
			continue
		}
		switch opt {
		case "tmpcopyup":
			mnt.TmpCopyUp = true
		case "idmap", "ridmap":
			idmap = opt
		default:
			data = append(data, opt)
		}
	}
	mnt.Data = strings.Join(data, ",")
	return mnt, idmap
}

// mountFlag maps an fstab option to its MS_* flag; clear is true for the
// negations ("rw", "dev", "exec", ...), which remove the flag.
func mountFlag(opt string) (flag uint64, clear, ok bool) {
	switch opt {
	case "ro":
		return unix.MS_RDONLY, false, true
	case "rw":
		return unix.MS_RDONLY, true, true
	case "nosuid":
		return unix.MS_NOSUID, false, true
	case "suid":
		return unix.MS_NOSUID, true, true
	case "nodev":
		return unix.MS_NODEV, false, true
	case "dev":
		return unix.MS_NODEV, true, true
	case "noexec":
		return unix.MS_NOEXEC, false, true
	case "exec":
		return unix.MS_NOEXEC, true, true
	case "sync":
		return unix.MS_SYNCHRONOUS, false, true
	case "async":
		return unix.MS_SYNCHRONOUS, true, true
	case "dirsync":
		return unix.MS_DIRSYNC, false, true
	case "remount":
		return unix.MS_REMOUNT, false, true
	case "mand":
		return unix.MS_MANDLOCK, false, true
	case "nomand":
		return unix.MS_MANDLOCK, true, true
	case "noatime":
		return unix.MS_NOATIME, false, true
	case "atime":
		return unix.MS_NOATIME, true, true
	case "nodiratime":
		return unix.MS_NODIRATIME, false, true
	case "diratime":
		return unix.MS_NODIRATIME, true, true
	case "relatime":
		return unix.MS_RELATIME, false, true
	case "norelatime":
		return unix.MS_RELATIME, true, true
	case "strictatime":
		return unix.MS_STRICTATIME, false, true
	case "nostrictatime":
		return unix.MS_STRICTATIME, true, true
	case "bind":
		return unix.MS_BIND, false, true
	case "rbind":
		return unix.MS_BIND | unix.MS_REC, false, true
	case "lazytime":
		return unix.MS_LAZYTIME, false, true
	case "nolazytime":
		return unix.MS_LAZYTIME, true, true
	case "silent":
		return unix.MS_SILENT, false, true
	case "loud":
		return unix.MS_SILENT, true, true
	case "iversion":
		return unix.MS_I_VERSION, false, true
	case "noiversion":
		return unix.MS_I_VERSION, true, true
	case "nosymfollow":
		return unix.MS_NOSYMFOLLOW, false, true
	case "symfollow":
		return unix.MS_NOSYMFOLLOW, true, true
	case "acl":
		return unix.MS_POSIXACL, false, true
	case "noacl":
		return unix.MS_POSIXACL, true, true
	}
	return 0, false, false
}

// recursiveAttr maps the "r"-prefixed options, which apply to a whole
// mount tree through mount_setattr(2), to their MOUNT_ATTR_* bit.
func recursiveAttr(opt string) (attr uint64, clear, ok bool) {
	switch opt {
	case "rro":
		return unix.MOUNT_ATTR_RDONLY, false, true
	case "rrw":
		return unix.MOUNT_ATTR_RDONLY, true, true
	case "rnosuid":
		return unix.MOUNT_ATTR_NOSUID, false, true
	case "rsuid":
		return unix.MOUNT_ATTR_NOSUID, true, true
	case "rnodev":
		return unix.MOUNT_ATTR_NODEV, false, true
	case "rdev":
		return unix.MOUNT_ATTR_NODEV, true, true
	case "rnoexec":
		return unix.MOUNT_ATTR_NOEXEC, false, true
	case "rexec":
		return unix.MOUNT_ATTR_NOEXEC, true, true
	case "rnodiratime":
		return unix.MOUNT_ATTR_NODIRATIME, false, true
	case "rdiratime":
		return unix.MOUNT_ATTR_NODIRATIME, true, true
	case "rnosymfollow":
		return unix.MOUNT_ATTR_NOSYMFOLLOW, false, true
	case "rsymfollow":
		return unix.MOUNT_ATTR_NOSYMFOLLOW, true, true
	}
	return 0, false, false
}

// recursiveAtime maps the recursive atime options to an atime mode. The
// negations fall back to relatime, which is what the kernel does when
// neither noatime nor strictatime is asked for.
func recursiveAtime(opt string) (mode uint64, ok bool) {
	switch opt {
	case "rnoatime":
		return unix.MOUNT_ATTR_NOATIME, true
	case "rstrictatime":
		return unix.MOUNT_ATTR_STRICTATIME, true
	case "rrelatime", "ratime", "rnorelatime", "rnostrictatime":
		return unix.MOUNT_ATTR_RELATIME, true
	}
	return 0, false
}
