package systemd

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultPrefix is the unit name prefix used when linux.cgroupsPath is
// empty, as runc uses "runc".
const DefaultPrefix = "barco"

// Default parent slices: the system manager's, and the one a user manager
// (rootless) puts its units in.
const (
	SystemSlice = "system.slice"
	UserSlice   = "user.slice"
)

// Unit names the systemd unit that holds a container and the slice it is
// placed in.
type Unit struct {
	Slice string // parent slice, e.g. "system.slice"; "-.slice" is the root slice
	Name  string // "<prefix>-<name>.scope", or a slice name ending in ".slice"
}

// IsSlice reports whether the unit is a slice rather than a scope.
func (u Unit) IsSlice() bool {
	return strings.HasSuffix(u.Name, ".slice")
}

// Path returns the cgroup of the unit relative to the cgroup root of its
// systemd manager: the nested slices, then the unit. A slice's place follows
// from its own name alone, whatever its parent.
func (u Unit) Path() (string, error) {
	if u.IsSlice() {
		return ExpandSlice(u.Name)
	}
	dir, err := ExpandSlice(u.Slice)
	if err != nil {
		return "", err
	}
	if dir == "/" {
		return "/" + u.Name, nil
	}
	return dir + "/" + u.Name, nil
}

// ParsePath turns linux.cgroupsPath in systemd's "slice:prefix:name" form
// into a unit. An empty value stands for ":barco:<id>"; an empty slice is
// defaultSlice (SystemSlice, or UserSlice for a user manager) and "-" the
// root slice. The unit is the scope "<prefix>-<name>.scope" unless name is a
// slice itself, in which case prefix is ignored.
func ParsePath(cgroupsPath, id, defaultSlice string) (Unit, error) {
	if cgroupsPath == "" {
		if id == "" {
			return Unit{}, errors.New("empty container id")
		}
		cgroupsPath = ":" + DefaultPrefix + ":" + id
	}
	parts := strings.Split(cgroupsPath, ":")
	if len(parts) != 3 {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: the systemd cgroup driver expects \"slice:prefix:name\"", cgroupsPath)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	switch slice {
	case "":
		slice = defaultSlice
	case "-":
		slice = "-.slice"
	}
	if _, err := ExpandSlice(slice); err != nil {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	u := Unit{Slice: slice, Name: name}
	if !u.IsSlice() {
		u.Name = prefix + "-" + name + ".scope"
	}
	if err := checkUnitName(u.Name); err != nil {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	if u.IsSlice() {
		if _, err := ExpandSlice(u.Name); err != nil {
			return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
		}
		if u.Name == "-.slice" {
			return Unit{}, fmt.Errorf("linux.cgroupsPath %q: the root slice cannot hold a container", cgroupsPath)
		}
	}
	return u, nil
}

// ExpandSlice returns the cgroup path of a slice: systemd nests slices by
// the dashes of their names, so "a-b-c.slice" lives at
// /a.slice/a-b.slice/a-b-c.slice, and "-.slice" is the root.
func ExpandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || base == "" {
		return "", fmt.Errorf("invalid slice name %q: must end in .slice", slice)
	}
	if base == "-" {
		return "/", nil
	}
	if err := checkUnitName(slice); err != nil {
		return "", err
	}
	// Every level repeats the name of its parent: the prefix of level i is
	// the first i+1 parts.
	parts := strings.Split(base, "-")
	var b strings.Builder
	for i, part := range parts {
		if part == "" {
			return "", fmt.Errorf("invalid slice name %q: empty component", slice)
		}
		b.WriteString("/" + strings.Join(parts[:i+1], "-") + ".slice")
	}
	return b.String(), nil
}

// checkUnitName rejects names systemd would refuse or that could leave the
// slice's directory: systemd unit names are at most 255 bytes of
// [A-Za-z0-9:_.\-] (and "@" for templates, which transient units cannot be).
func checkUnitName(name string) error {
	if len(name) > 255 {
		return fmt.Errorf("unit name %q is longer than 255 bytes", name)
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ':', c == '_', c == '.', c == '-', c == '\\':
		default:
			return fmt.Errorf("unit name %q: character %q is not allowed", name, c)
		}
	}
	if strings.HasPrefix(name, ".") {
		return fmt.Errorf("unit name %q starts with a dot", name)
	}
	return nil
}
