// Package features describes what this build of barco can do, in the
// runtime-spec features.md format that `barco features` prints. Every claim
// must hold for a config.json a caller writes on the strength of it: the
// tests feed the listed mount options through specconv and the integration
// suite starts a container with each listed namespace.
package features

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/barco-oci/barco/libbarco/caps"
	"github.com/barco-oci/barco/libbarco/configs"
)

// Annotations barco reports about itself.
const (
	AnnotationVersion = "org.barco.version"
	AnnotationCommit  = "org.barco.commit"
)

// Get returns the features of this build; version and commit are those of
// the binary.
func Get(version, commit string) *features.Features {
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         Hooks(),
		MountOptions:  MountOptions(),
		Linux: &features.Linux{
			Namespaces:   namespaces(),
			Capabilities: capabilities(),
			Cgroup: &features.Cgroup{
				V1: ptr(false),
				V2: ptr(true),
				// The systemd driver is not written yet.
				Systemd:     ptr(false),
				SystemdUser: ptr(false),
				Rdma:        ptr(true),
			},
			Seccomp: seccompFeatures(),
			// The kernel may have AppArmor or SELinux, but barco cannot
			// apply a profile or label yet, so it claims neither.
			Apparmor: &features.Apparmor{Enabled: ptr(false)},
			Selinux:  &features.Selinux{Enabled: ptr(false)},
			// specconv rejects these rather than ignoring them.
			IntelRdt:   &features.IntelRdt{Enabled: ptr(false)},
			NetDevices: &features.NetDevices{Enabled: ptr(false)},
			// features.MemoryPolicy has no "enabled" field: leaving it out
			// is how a runtime says it has none (specconv rejects it).
			MemoryPolicy: nil,
			MountExtensions: &features.MountExtensions{
				// specconv accepts idmapped mounts, but the rootfs stage
				// does not apply them yet.
				IDMap: &features.IDMap{Enabled: ptr(false)},
			},
		},
		Annotations: map[string]string{
			AnnotationVersion: version,
			AnnotationCommit:  commit,
		},
		// No annotation changes barco's behaviour, so none is unsafe.
		PotentiallyUnsafeConfigAnnotations: nil,
	}
}

// Hooks lists the hook kinds by their config.json names, in the order they
// run.
func Hooks() []string {
	return []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
}

// MountOptions lists, sorted, the mount options barco interprets itself
// rather than passing to the filesystem as data. "tmpcopyup", "idmap" and
// "ridmap" are parsed by specconv but not acted on by the rootfs stage yet,
// so they are left out.
func MountOptions() []string {
	return []string{
		"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync",
		"exec", "iversion", "lazytime", "loud", "mand", "noatime", "nodev",
		"nodiratime", "noexec", "noiversion", "nolazytime", "nomand",
		"norelatime", "nostrictatime", "nosuid", "nosymfollow", "private",
		"ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec",
		"rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
		"rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate",
		"rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime",
		"rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent",
		"slave", "strictatime", "suid", "symfollow", "sync", "unbindable",
	}
}

func namespaces() []string {
	out := make([]string, 0, len(configs.AllNamespaces))
	for _, ns := range configs.AllNamespaces {
		out = append(out, string(ns))
	}
	return out
}

// capabilities spells the capabilities this build knows as config.json
// does: "CAP_" and upper case.
func capabilities() []string {
	known := caps.Known()
	out := make([]string, 0, len(known))
	for _, c := range known {
		out = append(out, "CAP_"+strings.ToUpper(c))
	}
	return out
}

// seccompFeatures reports seccomp support. barco does not load seccomp
// filters yet, so it claims none (and lists no actions, operators or
// architectures a caller might rely on).
func seccompFeatures() *features.Seccomp {
	return &features.Seccomp{Enabled: ptr(false)}
}

func ptr[T any](v T) *T { return &v }
