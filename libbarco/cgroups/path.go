package cgroups

import (
	"fmt"
	"strings"
)

// Resolve is ResolvePath for the calling process.
func Resolve(cgroupsPath, id string) (string, error) {
	own, err := OwnPath()
	if err != nil {
		return "", err
	}
	return ResolvePath(cgroupsPath, id, own)
}

// ResolvePath turns linux.cgroupsPath into a cgroup path relative to the
// cgroup2 root, starting with "/". An absolute value is taken from the root;
// a relative one, and the default <own>/barco/<id> used when the value is
// empty, are placed under ownPath, the runtime's own cgroup, so that a
// runtime confined in a delegated subtree stays inside it.
func ResolvePath(cgroupsPath, id, ownPath string) (string, error) {
	// systemd's "slice:prefix:name" has no leading slash; an absolute path
	// with colons is an ordinary (if odd) cgroupfs path.
	if !strings.HasPrefix(cgroupsPath, "/") && strings.Count(cgroupsPath, ":") == 2 {
		return "", fmt.Errorf("linux.cgroupsPath %q: systemd's slice:prefix:name form needs --systemd-cgroup", cgroupsPath)
	}
	full := cgroupsPath
	if !strings.HasPrefix(cgroupsPath, "/") {
		own, ok := cleanPath(ownPath)
		if !ok {
			return "", fmt.Errorf("own cgroup %q is outside the cgroup root", ownPath)
		}
		if cgroupsPath == "" {
			if id == "" || id == "." || id == ".." || strings.Contains(id, "/") {
				return "", fmt.Errorf("container id %q cannot name a cgroup", id)
			}
			full = own + "/barco/" + id
		} else {
			full = own + "/" + cgroupsPath
		}
	}
	p, ok := cleanPath(full)
	if !ok {
		return "", fmt.Errorf("linux.cgroupsPath %q escapes the cgroup root", cgroupsPath)
	}
	if p == "/" {
		return "", fmt.Errorf("linux.cgroupsPath %q: the root cgroup cannot hold a container", cgroupsPath)
	}
	return p, nil
}

// cleanPath cleans the absolute path p lexically. Unlike path.Clean, which
// silently turns "/.." into "/", it reports false for any ".." that would
// climb above the root, and for a path that is not absolute.
func cleanPath(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	var elems []string
	for _, e := range strings.Split(p, "/") {
		switch e {
		case "", ".":
		case "..":
			if len(elems) == 0 {
				return "", false
			}
			elems = elems[:len(elems)-1]
		default:
			elems = append(elems, e)
		}
	}
	return "/" + strings.Join(elems, "/"), true
}
