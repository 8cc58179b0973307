// Package features describes what this build of barco can do, in the
// runtime-spec features.md format that `barco features` prints. Every claim
// must hold for a config.json a caller writes on the strength of it: the
// tests feed the listed mount options through specconv and the integration
// suite starts a container with each listed namespace.
package features

import (
	"os"
	"sort"

	"github.com/barco-oci/barco/libbarco/seccomp"
	"golang.org/x/sys/unix"
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
	// AnnotationLibseccomp is the key runc and crun use too.
	AnnotationLibseccomp = "io.github.seccomp.libseccomp.version"
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
				// --systemd-cgroup with the system manager; the user manager
				// (rootless) is not tested against a real systemd yet.
				Systemd:     ptr(true),
				SystemdUser: ptr(false),
				Rdma:        ptr(true),
			},
			Seccomp: seccompFeatures(),
			// Profiles and labels are applied when the host has the LSM.
			Apparmor: &features.Apparmor{Enabled: ptr(apparmorEnabled())},
			Selinux:  &features.Selinux{Enabled: ptr(selinuxEnabled())},
			// specconv rejects these rather than ignoring them.
			IntelRdt:   &features.IntelRdt{Enabled: ptr(false)},
			NetDevices: &features.NetDevices{Enabled: ptr(true)},
			MemoryPolicy: &features.MemoryPolicy{
				Modes: sortedKeys(configs.MemoryPolicyModes),
				Flags: sortedKeys(configs.MemoryPolicyFlags),
			},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: ptr(true)},
			},
		},
		Annotations: map[string]string{
			AnnotationVersion:    version,
			AnnotationCommit:     commit,
			AnnotationLibseccomp: seccomp.Version(),
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
// rather than passing to the filesystem as data.
func MountOptions() []string {
	return []string{
		"acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync",
		"exec", "idmap", "iversion", "lazytime", "loud", "mand", "noacl", "noatime", "nodev",
		"nodiratime", "noexec", "noiversion", "nolazytime", "nomand",
		"norelatime", "nostrictatime", "nosuid", "nosymfollow", "private",
		"ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "ridmap",
		"rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
		"rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate",
		"rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime",
		"rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent",
		"slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable",
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

// seccompFeatures reports what the seccomp package compiles and what the
// running kernel accepts.
func seccompFeatures() *features.Seccomp {
	return &features.Seccomp{
		Enabled:        ptr(true),
		Actions:        seccomp.Actions(),
		Operators:      seccomp.Operators(),
		Archs:          seccomp.Archs(),
		KnownFlags:     seccomp.KnownFlags(),
		SupportedFlags: seccomp.SupportedFlags(),
	}
}

func apparmorEnabled() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(data) > 0 && data[0] == 'Y'
}

func selinuxEnabled() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
}

func ptr[T any](v T) *T { return &v }

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
