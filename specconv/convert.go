// Package specconv turns a runtime-spec config.json into the engine's
// validated configs.Config, and provides the default spec `barco spec`
// writes. Every check lives here so the engine can trust its input; every
// error names the JSON path of the offending field.
package specconv

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
)

// Options carries what the spec alone does not say.
type Options struct {
	// Bundle is the bundle directory; a relative root.path or bind-mount
	// source is relative to it. Empty means the current directory.
	Bundle  string
	NoPivot bool // for the rootfs stage; not used by the conversion yet
}

// Convert validates spec and returns the engine config. Process, root and
// linux are required because `create` always starts an init process on
// Linux. Its only side effects are resolving and Stat-ing the rootfs.
func Convert(spec *specs.Spec, opts Options) (*configs.Config, error) {
	if spec == nil {
		return nil, errors.New("spec: required")
	}
	if err := checkVersion(spec.Version); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", opts.Bundle, err)
	}
	if spec.Linux == nil {
		return nil, fieldErr("linux", "required")
	}
	if err := checkUnsupported(spec); err != nil {
		return nil, err
	}
	rootfs, err := resolveRoot(spec.Root, bundle)
	if err != nil {
		return nil, err
	}
	c := &configs.Config{
		OCIVersion:  spec.Version,
		Bundle:      bundle,
		Rootfs:      rootfs,
		Readonly:    spec.Root.Readonly,
		Hostname:    spec.Hostname,
		Domainname:  spec.Domainname,
		Sysctl:      maps.Clone(spec.Linux.Sysctl),
		CgroupsPath: spec.Linux.CgroupsPath,
		Resources:   spec.Linux.Resources,
		Seccomp:     spec.Linux.Seccomp,
		MountLabel:  spec.Linux.MountLabel,
		Annotations: maps.Clone(spec.Annotations),
	}
	// The order matters for the messages only: namespaces first, because
	// several later rules (hostname, mappings, idmapped mounts) refer to them.
	steps := []func(*specs.Spec, *configs.Config) error{
		convertNamespaces,
		convertIDMappings,
		convertTimeOffsets,
		convertNetDevices,
		checkUTS,
		convertPropagation,
		convertProcess,
		convertMounts,
		convertDevices,
		convertPathLists,
		convertHooks,
		checkSysctl,
		convertMemoryPolicy,
	}
	for _, step := range steps {
		if err := step(spec, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkVersion accepts any 1.x.y semantic version: the spec keeps
// compatibility within a major version.
func checkVersion(v string) error {
	if v == "" {
		return fieldErr("ociVersion", "required")
	}
	core, _, _ := strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 || (hasPre && pre == "") {
		return fieldErr("ociVersion", "%q is not a semantic version", v)
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return fieldErr("ociVersion", "%q is not a semantic version", v)
		}
	}
	if parts[0] != "1" {
		return fieldErr("ociVersion", "unsupported major version in %q (barco supports 1.x)", v)
	}
	return nil
}

// checkUnsupported rejects settings barco has no way to apply, rather than
// running the container without them.
func checkUnsupported(spec *specs.Spec) error {
	switch {
	case spec.Linux.IntelRdt != nil:
		return fieldErr("linux.intelRdt", "%w", ErrUnsupported)
	}
	return nil
}

// resolveRoot returns the absolute, symlink-free path of the rootfs, so
// later stages never resolve a path the user could swap under them.
func resolveRoot(root *specs.Root, bundle string) (string, error) {
	if root == nil {
		return "", fieldErr("root", "required")
	}
	if root.Path == "" {
		return "", fieldErr("root.path", "required")
	}
	path := root.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(bundle, path)
	}
	path = filepath.Clean(path)
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fieldErr("root.path", "%s: %w", path, unwrapPath(err))
	}
	st, err := os.Stat(resolved)
	if err != nil {
		return "", fieldErr("root.path", "%s: %w", path, unwrapPath(err))
	}
	if !st.IsDir() {
		return "", fieldErr("root.path", "%s: not a directory", path)
	}
	return resolved, nil
}

// convertPathLists checks maskedPaths and readonlyPaths. Both act on
// mounts, so without a mount namespace they would change the host.
func convertPathLists(spec *specs.Spec, c *configs.Config) error {
	var err error
	if c.MaskedPaths, err = absPaths("linux.maskedPaths", spec.Linux.MaskedPaths); err != nil {
		return err
	}
	if c.ReadonlyPaths, err = absPaths("linux.readonlyPaths", spec.Linux.ReadonlyPaths); err != nil {
		return err
	}
	if _, ok := c.Namespace(configs.NEWNS); !ok {
		if len(c.MaskedPaths) > 0 {
			return fieldErr("linux.maskedPaths", "requires a mount namespace")
		}
		if len(c.ReadonlyPaths) > 0 {
			return fieldErr("linux.readonlyPaths", "requires a mount namespace")
		}
	}
	return nil
}

func absPaths(field string, paths []string) ([]string, error) {
	if paths == nil {
		return nil, nil
	}
	out := make([]string, 0, len(paths))
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fieldErr(index(field, i), "%q must be absolute", p)
		}
		out = append(out, filepath.Clean(p))
	}
	return out, nil
}
