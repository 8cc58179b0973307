package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// barcoFeatures runs `barco features` and parses its output.
func barcoFeatures(t *testing.T) *features.Features {
	t.Helper()
	requireEnv(t)
	res := runCmd(t, env.binary, "features")
	if res.Code != 0 {
		t.Fatalf("barco features failed\n%s", res)
	}
	dec := json.NewDecoder(strings.NewReader(res.Stdout))
	dec.DisallowUnknownFields()
	var f features.Features
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("barco features output does not parse: %v\n%s", err, res.Stdout)
	}
	return &f
}

func TestFeaturesOutput(t *testing.T) {
	f := barcoFeatures(t)
	if f.OCIVersionMin != "1.0.0" || f.OCIVersionMax != specs.Version {
		t.Errorf("versions %q..%q, want 1.0.0..%s", f.OCIVersionMin, f.OCIVersionMax, specs.Version)
	}
	if f.Linux == nil {
		t.Fatal("no linux section")
	}
	version := strings.Fields(runCmd(t, env.binary, "--version").Stdout)
	if len(version) < 3 || f.Annotations["org.barco.version"] != version[2] {
		t.Errorf("org.barco.version %q does not match `barco --version` %q", f.Annotations["org.barco.version"], version)
	}
	if len(f.Linux.Namespaces) != 8 {
		t.Errorf("namespaces %v, want the 8 runtime-spec kinds", f.Linux.Namespaces)
	}
	if len(f.Linux.Capabilities) == 0 || !slices.Contains(f.Linux.Capabilities, "CAP_SYS_ADMIN") {
		t.Errorf("capabilities %v lack CAP_SYS_ADMIN", f.Linux.Capabilities)
	}
	// What TestNetDevicesMoved shows working.
	if nd := f.Linux.NetDevices; nd == nil || nd.Enabled == nil || !*nd.Enabled {
		t.Errorf("netDevices %+v, want enabled", nd)
	}
}

// nsProcName is the name of a namespace kind under /proc/PID/ns.
var nsProcName = map[string]string{
	"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc",
	"uts": "uts", "user": "user", "cgroup": "cgroup", "time": "time",
}

// TestFeaturesNamespacesWork starts, for every namespace kind barco claims,
// a container asking for a new one of that kind, and checks the container
// process really is in a namespace other than the host's.
func TestFeaturesNamespacesWork(t *testing.T) {
	f := barcoFeatures(t)
	for _, kind := range f.Linux.Namespaces {
		t.Run(kind, func(t *testing.T) {
			name, ok := nsProcName[kind]
			if !ok {
				t.Fatalf("barco claims namespace kind %q, unknown to runtime-spec", kind)
			}
			host, err := os.Readlink("/proc/self/ns/" + name)
			if err != nil {
				t.Fatal(err)
			}
			script := "readlink /proc/self/ns/" + name
			switch kind {
			case "user":
				script += "; cat /proc/self/uid_map /proc/self/gid_map"
			case "cgroup":
				script += "; cat /proc/self/cgroup"
			}
			c := newRuntime(t).newContainer("sh", "-c", script)
			if !slices.ContainsFunc(c.spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return string(ns.Type) == kind }) {
				c.spec.Linux.Namespaces = append(c.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(kind)})
			}
			if kind == "user" {
				allowMappedRoot(t, c.bundle)
				c.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				c.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			}
			lines := strings.Split(strings.TrimSpace(c.runOK()), "\n")
			if lines[0] == host || !strings.HasPrefix(lines[0], name+":[") {
				t.Errorf("container's %s namespace %q, want a new one (host: %q)", kind, lines[0], host)
			}
			switch kind {
			case "user":
				want := []string{"0 100000 65536", "0 100000 65536"}
				var got []string
				for _, l := range lines[1:] {
					got = append(got, strings.Join(strings.Fields(l), " "))
				}
				if !slices.Equal(got, want) {
					t.Errorf("uid_map and gid_map %q, want %q", got, want)
				}
			case "cgroup":
				// In its own cgroup namespace the container's cgroup is the root.
				if !slices.Contains(lines[1:], "0::/") {
					t.Errorf("/proc/self/cgroup %q, want 0::/", lines[1:])
				}
			}
		})
	}
}

// TestFeaturesMountOptionsWork mounts, in one container, one filesystem per
// mount option barco claims, and checks that every mount is there.
func TestFeaturesMountOptionsWork(t *testing.T) {
	f := barcoFeatures(t)
	c := newRuntime(t).newContainer("sh", "-c", "cut -d' ' -f2 /proc/mounts | grep '^/mnt/opt/'")
	var want []string
	for _, opt := range f.MountOptions {
		dst := "/mnt/opt/" + opt
		m := specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{opt}}
		switch opt {
		case "bind", "rbind":
			m = specs.Mount{Destination: dst, Type: "none", Source: t.TempDir(), Options: []string{opt}}
		case "idmap", "ridmap":
			m = specs.Mount{Destination: dst, Type: "bind", Source: t.TempDir(), Options: []string{"rbind", opt},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
				GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}}
		}
		c.spec.Mounts = append(c.spec.Mounts, m)
		want = append(want, dst)
	}
	res := c.run()
	if res.Code != 0 {
		t.Fatalf("a container with every claimed mount option failed\n%s", res)
	}
	got := strings.Fields(res.Stdout)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("mounts in the container:\n%s\nwant one per option: %s", strings.Join(got, "\n"), strings.Join(want, " "))
	}
}

// TestFeaturesMountOptionsEffect spot-checks that options are applied, not
// only accepted: the kernel reports them back in /proc/mounts.
func TestFeaturesMountOptionsEffect(t *testing.T) {
	f := barcoFeatures(t)
	tests := []struct {
		opt  string
		want string // a flag /proc/mounts shows for the mount
	}{
		{"ro", "ro"},
		{"rro", "ro"},
		{"nosuid", "nosuid"},
		{"rnosuid", "nosuid"},
		{"nodev", "nodev"},
		{"rnoexec", "noexec"},
		{"noatime", "noatime"},
		{"rnoatime", "noatime"},
		{"nosymfollow", "nosymfollow"},
		{"sync", "sync"},
	}
	c := newRuntime(t).newContainer("sh", "-c", "grep ' /mnt/opt/' /proc/mounts")
	for _, tc := range tests {
		if !slices.Contains(f.MountOptions, tc.opt) {
			t.Fatalf("%q is not a claimed mount option", tc.opt)
		}
		c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
			Destination: "/mnt/opt/" + tc.opt, Type: "tmpfs", Source: "tmpfs", Options: []string{tc.opt},
		})
	}
	flags := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(c.runOK()), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 4 {
			flags[filepath.Base(fields[1])] = strings.Split(fields[3], ",")
		}
	}
	for _, tc := range tests {
		if !slices.Contains(flags[tc.opt], tc.want) {
			t.Errorf("mount with %q has options %v, want %q among them", tc.opt, flags[tc.opt], tc.want)
		}
	}
	if t.Failed() {
		t.Log(fmt.Sprint(flags))
	}
}

// allowMappedRoot lets a container root mapped to an unprivileged host uid
// reach the bundle: the test's temporary directories are private (0700).
func allowMappedRoot(t *testing.T, bundle string) {
	t.Helper()
	for dir := filepath.Dir(bundle); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
