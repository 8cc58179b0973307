package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// benchOCIVersion is the ociVersion of every bundle. crun 1.8 (Debian 12)
// refuses a config newer than it knows; every runtime measured accepts
// this one, and nothing in the bundle needs a later version.
const benchOCIVersion = "1.0.2"

// cgroupParent is the cgroup, under the cgroup2 root, of every container of
// a bench run.
const cgroupParent = "barco-bench"

// defaultSpec is the config.json `barco spec` writes.
func defaultSpec(barco, dir string) (specs.Spec, error) {
	var s specs.Spec
	if out, err := exec.Command(barco, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return s, fmt.Errorf("%s spec: %v: %s", barco, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("default spec: %w", err)
	}
	return s, nil
}

// benchSpec turns the default spec into the bench's: args as the process,
// no terminal, the shared rootfs (read-only as in the default) and no
// linux.resources. The namespaces, mounts, capabilities and masked paths
// stay the default's, the same for every runtime.
//
// No resources at all, not even the default's deny-all device rule: on
// cgroup v2 it means an eBPF program, and crun 1.8 then raises
// RLIMIT_MEMLOCK to infinity, which fails without CAP_SYS_RESOURCE.
func benchSpec(base specs.Spec, rootfs string, args []string) (specs.Spec, error) {
	s := base
	if s.Process == nil || s.Root == nil || s.Linux == nil {
		return s, fmt.Errorf("default spec lacks process, root or linux")
	}
	p := *s.Process
	p.Terminal = false
	p.ConsoleSize = nil
	p.Args = append([]string(nil), args...)
	s.Process = &p
	root := *s.Root
	root.Path = rootfs
	s.Root = &root
	l := *s.Linux
	l.Resources = nil
	s.Linux = &l
	s.Version = benchOCIVersion
	return s, nil
}

// writeBundle writes a bundle for container id: its own directory, so that
// each container has a cgroup of its own under cgroupParent.
func writeBundle(dir, id string, s specs.Spec) (string, error) {
	l := *s.Linux
	l.CgroupsPath = "/" + cgroupParent + "/" + id
	s.Linux = &l
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	bundle := filepath.Join(dir, id)
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return "", err
	}
	return bundle, os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
}
