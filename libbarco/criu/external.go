package criu

import (
	"bufio"
	"fmt"
	"strings"
)

// ExtMountDump declares the mount at mountpoint (inside the container) as
// external on dump, under the key cookie: criu records the key instead of
// the mount's source, which lives outside the container.
func ExtMountDump(mountpoint, cookie string) string {
	return "mnt[" + mountpoint + "]:" + cookie
}

// ExtMountRestore tells restore which host path to bind for the external
// mount dumped under cookie.
func ExtMountRestore(cookie, hostPath string) string {
	return "mnt[" + cookie + "]:" + hostPath
}

// ExtNamespace declares a namespace the container joined (rather than
// created) as external on dump: kind is "net" or "pid", ino the
// namespace's inode, key the name restore expects it under in --inherit-fd.
func ExtNamespace(kind string, ino uint64, key string) string {
	return fmt.Sprintf("%s[%d]:%s", kind, ino, key)
}

// ExtFile is the key of an open file whose mount is not in the dumped
// mount namespace (say the host's /dev/null as the container's stdin).
// Used with --external on dump and --inherit-fd on restore.
func ExtFile(mntID, ino uint64) string {
	return fmt.Sprintf("file[%x:%x]", mntID, ino)
}

// ExtTTY is the key of a terminal opened outside the dumped tree.
func ExtTTY(rdev, dev uint64) string {
	return fmt.Sprintf("tty[%x:%x]", rdev, dev)
}

// CgroupRoots returns the --cgroup-root values that restore the tree into
// the cgroup2 directory rel (relative to the cgroup2 root, leading slash)
// and keep every cgroup v1 hierarchy where the caller is. self is the
// content of /proc/self/cgroup. On a pure cgroup v2 host that is one
// global root; on a hybrid host each v1 hierarchy is pinned to the
// caller's own group, so criu never moves anything between v1 groups.
func CgroupRoots(self, rel string) []string {
	var v1 []string
	sc := bufio.NewScanner(strings.NewReader(self))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || parts[0] == "0" || parts[1] == "" {
			continue
		}
		v1 = append(v1, parts[1]+":"+parts[2])
	}
	if len(v1) == 0 {
		return []string{rel}
	}
	// An empty controller name is criu's name for the cgroup2 hierarchy.
	return append(v1, ":"+rel)
}
