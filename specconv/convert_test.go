package specconv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

// newBundle makes a bundle directory with an empty rootfs, the smallest
// thing Convert accepts.
func newBundle(t *testing.T) string {
	t.Helper()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bundle
}

func ptr[T any](v T) *T { return &v }

func TestConvertRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		want   string
	}{
		// ociVersion
		{"no version", func(s *specs.Spec) { s.Version = "" }, "ociVersion: required"},
		{"major 2", func(s *specs.Spec) { s.Version = "2.0.0" }, "ociVersion: unsupported major version"},
		{"not semver", func(s *specs.Spec) { s.Version = "1.2" }, `ociVersion: "1.2" is not a semantic version`},
		{"garbage version", func(s *specs.Spec) { s.Version = "1.x.0" }, "ociVersion: "},

		// root
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root: required"},
		{"no root path", func(s *specs.Spec) { s.Root.Path = "" }, "root.path: required"},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "nothere" }, "nothere: no such file or directory"},
		{"rootfs is a file", func(s *specs.Spec) { s.Root.Path = "config.json" }, "config.json: not a directory"},

		// process
		{"no linux", func(s *specs.Spec) { s.Linux = nil }, "linux: required"},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args: must not be empty"},
		{"empty argv0", func(s *specs.Spec) { s.Process.Args = []string{""} }, "process.args[0]: must not be empty"},
		{"no cwd", func(s *specs.Spec) { s.Process.Cwd = "" }, "process.cwd: required"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "home" }, "process.cwd: \"home\" must be absolute"},
		{"env without =", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO") }, "process.env[2]: \"FOO\" is not NAME=VALUE"},
		{"env empty name", func(s *specs.Spec) { s.Process.Env = []string{"=x"} }, "process.env[0]: \"=x\" has an empty name"},
		{"umask too big", func(s *specs.Spec) { s.Process.User.Umask = ptr(uint32(0o1000)) }, "process.user.umask:"},
		{"oom score", func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(1001) }, "process.oomScoreAdj: 1001 is outside"},
		{"unknown cap", func(s *specs.Spec) { s.Process.Capabilities.Bounding[1] = "CAP_FOO" }, `process.capabilities.bounding[1]: unknown capability "CAP_FOO"`},
		{"lower-case cap", func(s *specs.Spec) { s.Process.Capabilities.Effective = []string{"cap_kill"} }, `process.capabilities.effective[0]: unknown capability "cap_kill"`},
		{"cap without prefix", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"KILL"} }, `process.capabilities.ambient[0]: unknown capability "KILL"`},
		{"bad inheritable", func(s *specs.Spec) { s.Process.Capabilities.Inheritable = []string{"CAP_CHOWN", "x"} }, "process.capabilities.inheritable[1]"},
		{"bad permitted", func(s *specs.Spec) { s.Process.Capabilities.Permitted = []string{"CAP_"} }, "process.capabilities.permitted[0]"},
		{"unknown rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_FOO"})
		}, `process.rlimits[1].type: unknown rlimit "RLIMIT_FOO"`},
		{"soft above hard", func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 }, "process.rlimits[0]: soft limit 2048 exceeds hard limit 1024"},
		{"duplicate rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 1})
		}, `process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE"`},
		{"no scheduler policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{} }, "process.scheduler.policy: required"},
		{"unknown scheduler policy", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FAST"}
		}, `process.scheduler.policy: unknown policy "SCHED_FAST"`},
		{"scheduler nice", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: 20}
		}, "process.scheduler.nice"},
		{"scheduler priority", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Priority: 3}
		}, "process.scheduler.priority"},
		{"scheduler deadline fields", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedRR, Runtime: 10}
		}, "process.scheduler: runtime, deadline and period"},
		{"scheduler flag", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_X"}}
		}, "process.scheduler.flags[0]"},
		{"io class", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "RT"} }, `process.ioPriority.class: unknown class "RT"`},
		{"io priority", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}
		}, "process.ioPriority.priority: 8"},
		{"personality", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: "BSD"}
		}, `linux.personality.domain: unknown domain "BSD"`},
		{"exec cpu affinity initial", func(s *specs.Spec) {
			s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0-x"}
		}, `process.execCPUAffinity.initial: invalid list "0-x"`},
		{"exec cpu affinity final", func(s *specs.Spec) {
			s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0", Final: "5-2"}
		}, `process.execCPUAffinity.final: invalid list "5-2": range 5-2 is reversed`},
		{"exec cpu affinity beyond", func(s *specs.Spec) {
			s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "1024"}
		}, `process.execCPUAffinity.final: invalid list "1024": 1024 is beyond 1023`},

		// hostname and domainname
		{"hostname without uts", func(s *specs.Spec) { dropNamespace(s, specs.UTSNamespace) }, "hostname: requires a uts namespace of the container's"},
		{"domainname without uts", func(s *specs.Spec) {
			s.Hostname = ""
			s.Domainname = "example.org"
			dropNamespace(s, specs.UTSNamespace)
		}, "domainname: requires a uts namespace of the container's"},

		// namespaces
		{"unknown namespace", func(s *specs.Spec) { s.Linux.Namespaces[2].Type = "foo" }, `linux.namespaces[2].type: unknown namespace "foo"`},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, `linux.namespaces[6].type: duplicate namespace "pid"`},
		{"relative namespace path", func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "proc/1/ns/net" }, "linux.namespaces[1].path: \"proc/1/ns/net\" must be absolute"},
		{"uid map without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.uidMappings: requires a user namespace"},
		{"gid map without userns", func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.gidMappings: requires a user namespace"},
		{"new userns without uid map", func(s *specs.Spec) {
			addNamespace(s, specs.UserNamespace, "")
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.uidMappings: required by a new user namespace"},
		{"new userns without gid map", func(s *specs.Spec) {
			addNamespace(s, specs.UserNamespace, "")
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.gidMappings: required by a new user namespace"},
		{"zero-size map", func(s *specs.Spec) {
			addNamespace(s, specs.UserNamespace, "")
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 2000}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
		}, "linux.uidMappings[1].size: must be greater than 0"},
		{"time offsets without timens", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, "linux.timeOffsets: requires a new time namespace"},
		{"time offsets in joined timens", func(s *specs.Spec) {
			addNamespace(s, specs.TimeNamespace, "/proc/1/ns/time")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, "linux.timeOffsets: requires a new time namespace"},
		{"unknown clock", func(s *specs.Spec) {
			addNamespace(s, specs.TimeNamespace, "")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 10}}
		}, `linux.timeOffsets: unknown clock "realtime"`},
		{"net devices without netns", func(s *specs.Spec) {
			dropNamespace(s, specs.NetworkNamespace)
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {}}
		}, `linux.netDevices: requires a network namespace`},
		{"net device host name too long", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"abcdefghijklmnop": {}}
		}, `linux.netDevices[abcdefghijklmnop]: device name "abcdefghijklmnop" is longer than 15 bytes`},
		{"net device host name template", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth%d": {}}
		}, `linux.netDevices[eth%d]: device name "eth%d": only a container name may hold`},
		{"net device name with slash", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {Name: "a/b"}}
		}, `linux.netDevices[eth1].name: device name "a/b" contains '/', ':' or white space`},
		{"net device name dot", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {Name: ".."}}
		}, `linux.netDevices[eth1].name: device name ".." is not allowed`},
		{"net device name two templates", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {Name: "e%d%d"}}
		}, `linux.netDevices[eth1].name: device name "e%d%d"`},
		{"net devices with one name", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {Name: "eth2"}, "eth2": {}}
		}, `linux.netDevices[eth2]: "eth2" is also the name of linux.netDevices[eth1] in the container`},
		{"rootfs propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rwhatever" }, `linux.rootfsPropagation: unknown propagation "rwhatever"`},

		// mounts
		{"mount without destination", func(s *specs.Spec) { s.Mounts[3].Destination = "" }, "mounts[3].destination: required"},
		{"relative mount destination", func(s *specs.Spec) { s.Mounts[3].Destination = "dev/shm" }, "mounts[3].destination: \"dev/shm\" must be absolute"},
		{"mount without type", func(s *specs.Spec) { s.Mounts[0].Type = "" }, "mounts[0].type: required for a mount that is not a bind mount"},
		{"bind without source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind"})
		}, "mounts[7].source: required for a bind mount"},
		{"tmpcopyup on bind", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "tmpcopyup"}})
		}, `mounts[7].options: "tmpcopyup" requires type "tmpfs"`},
		{"idmap without uid map", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind", "idmap"},
				GIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}})
		}, `mounts[7].uidMappings: required by the "idmap" option`},
		{"ridmap without gid map", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "ridmap"},
				UIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}})
		}, `mounts[7].gidMappings: required by the "ridmap" option`},
		{"idmapped non-bind", func(s *specs.Spec) {
			s.Mounts[1].UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
			s.Mounts[1].GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "mounts[1]: an idmapped mount must be a bind mount"},
		{"bad mount map", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind"},
				UIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 0}}})
		}, "mounts[7].uidMappings[0].size: must be greater than 0"},

		// devices
		{"relative device path", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/fuse", Type: "c", Major: 10, Minor: 229}}
		}, "linux.devices[0].path: \"dev/fuse\" must be absolute"},
		{"unknown device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "x", Major: 10, Minor: 229}}
		}, `linux.devices[0].type: unknown device type "x"`},
		{"device without numbers", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}, {Path: "/dev/sda", Type: "b"}}
		}, `linux.devices[1]: major and minor are required for type "b"`},
		{"negative major", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "u", Major: -1, Minor: 1}}
		}, "linux.devices[0].major: -1 is out of range"},
		{"duplicate device", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}, {Path: "/dev//fuse", Type: "c", Major: 10, Minor: 229}}
		}, `linux.devices[1].path: duplicate device "/dev/fuse"`},

		// masked and read-only paths
		{"relative masked path", func(s *specs.Spec) { s.Linux.MaskedPaths[4] = "proc/kcore" }, "linux.maskedPaths[4]: \"proc/kcore\" must be absolute"},
		{"relative readonly path", func(s *specs.Spec) { s.Linux.ReadonlyPaths[0] = "proc/bus" }, "linux.readonlyPaths[0]: \"proc/bus\" must be absolute"},
		{"masked paths without mountns", func(s *specs.Spec) { dropNamespace(s, specs.MountNamespace) }, "linux.maskedPaths: requires a mount namespace"},

		// hooks
		{"relative hook path", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}, {Path: "hook.sh"}}}
		}, "hooks.poststart[1].path: \"hook.sh\" must be absolute"},
		{"relative prestart hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "x"}}}
		}, "hooks.prestart[0].path"},
		{"zero hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true", Timeout: ptr(0)}}}
		}, "hooks.createRuntime[0].timeout: must be greater than 0"},
		{"bad hook env", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Env: []string{"X"}}}}
		}, "hooks.poststop[0].env[0]"},

		// settings barco cannot apply
		{"intel rdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"} }, "linux.intelRdt: not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := newBundle(t)
			if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			s := Example()
			tt.mutate(s)
			c, err := Convert(s, Options{Bundle: bundle})
			if err == nil {
				t.Fatalf("Convert succeeded (%d mounts), want error containing %q", len(c.Mounts), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func dropNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	var kept []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			kept = append(kept, ns)
		}
	}
	s.Linux.Namespaces = kept
}

func setNamespacePath(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == t {
			s.Linux.Namespaces[i].Path = path
		}
	}
}

func addNamespace(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
}

func TestConvertErrorsAreFieldErrors(t *testing.T) {
	s := Example()
	s.Mounts[3].Destination = "rel"
	_, err := Convert(s, Options{Bundle: newBundle(t)})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "mounts[3].destination" {
		t.Fatalf("got %v, want a *FieldError for mounts[3].destination", err)
	}

	s = Example()
	s.Root.Path = "missing"
	_, err = Convert(s, Options{Bundle: newBundle(t)})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing rootfs: %v does not match fs.ErrNotExist", err)
	}

	s = Example()
	s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"}
	_, err = Convert(s, Options{Bundle: newBundle(t)})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("intel rdt: %v does not match ErrUnsupported", err)
	}
}

func TestConvertExample(t *testing.T) {
	bundle := newBundle(t)
	c, err := Convert(Example(), Options{Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if c.Rootfs != filepath.Join(bundle, "rootfs") || !c.Readonly || c.Bundle != bundle {
		t.Errorf("rootfs %q readonly %v bundle %q", c.Rootfs, c.Readonly, c.Bundle)
	}
	if c.OCIVersion != specs.Version || c.Hostname != "barco" {
		t.Errorf("version %q hostname %q", c.OCIVersion, c.Hostname)
	}
	if c.RootPropagation != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("root propagation %#x, want MS_SLAVE|MS_REC", c.RootPropagation)
	}

	wantNS := []configs.NamespaceType{configs.NEWPID, configs.NEWNET, configs.NEWIPC, configs.NEWUTS, configs.NEWNS, configs.NEWCGROUP}
	if len(c.Namespaces) != len(wantNS) {
		t.Fatalf("namespaces %v", c.Namespaces)
	}
	for i, ns := range c.Namespaces {
		if ns.Type != wantNS[i] || ns.Path != "" {
			t.Errorf("namespace %d = %+v, want new %s", i, ns, wantNS[i])
		}
	}

	p := c.Process
	if !p.Terminal || !p.NoNewPrivileges || p.Cwd != "/" || !reflect.DeepEqual(p.Args, []string{"sh"}) || len(p.Env) != 2 {
		t.Errorf("process %+v", p)
	}
	wantCaps := []string{"audit_write", "kill", "net_bind_service"}
	if p.Capabilities == nil {
		t.Fatal("capabilities are nil")
	}
	for name, got := range map[string][]string{
		"bounding": p.Capabilities.Bounding, "effective": p.Capabilities.Effective, "permitted": p.Capabilities.Permitted,
	} {
		if !reflect.DeepEqual(got, wantCaps) {
			t.Errorf("%s caps = %v, want %v", name, got, wantCaps)
		}
	}
	if p.Capabilities.Inheritable != nil || p.Capabilities.Ambient != nil {
		t.Errorf("inheritable %v ambient %v, want none", p.Capabilities.Inheritable, p.Capabilities.Ambient)
	}
	if want := []configs.Rlimit{{Type: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 1024}}; !reflect.DeepEqual(p.Rlimits, want) {
		t.Errorf("rlimits %+v, want %+v", p.Rlimits, want)
	}

	mounts := map[string]configs.Mount{}
	for _, m := range c.Mounts {
		mounts[m.Destination] = m
	}
	if len(mounts) != 7 {
		t.Fatalf("mounts %+v", c.Mounts)
	}
	checks := []struct {
		dest, typ, data string
		flags           uint64
	}{
		{"/proc", "proc", "", 0},
		{"/dev", "tmpfs", "mode=755,size=65536k", unix.MS_NOSUID | unix.MS_STRICTATIME},
		{"/dev/pts", "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5", unix.MS_NOSUID | unix.MS_NOEXEC},
		{"/dev/shm", "tmpfs", "mode=1777,size=65536k", unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
		{"/sys", "sysfs", "", unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY},
		{"/sys/fs/cgroup", "cgroup", "", unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY},
	}
	for _, want := range checks {
		m := mounts[want.dest]
		if m.Type != want.typ || m.Flags != want.flags || m.Data != want.data || m.IsBind() {
			t.Errorf("%s: type %q flags %#x data %q; want %q %#x %q", want.dest, m.Type, m.Flags, m.Data, want.typ, want.flags, want.data)
		}
	}
	if len(c.MaskedPaths) != 11 || c.MaskedPaths[2] != "/proc/kcore" || len(c.ReadonlyPaths) != 5 {
		t.Errorf("masked %v readonly %v", c.MaskedPaths, c.ReadonlyPaths)
	}
	if c.Resources == nil || len(c.Resources.Devices) != 1 || c.Resources.Devices[0].Allow {
		t.Errorf("resources %+v", c.Resources)
	}
}

func TestConvertValues(t *testing.T) {
	bundle := newBundle(t)
	if err := os.Symlink("rootfs", filepath.Join(bundle, "link")); err != nil {
		t.Fatal(err)
	}
	s := Example()
	s.Root.Path = "link"
	s.Domainname = "example.org"
	s.Annotations = map[string]string{"a": "b"}
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Linux.CgroupsPath = "/barco/x"
	s.Linux.RootfsPropagation = "rshared"
	s.Linux.Namespaces = append(s.Linux.Namespaces,
		specs.LinuxNamespace{Type: specs.UserNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 5}}
	s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"veth9": {}, "eth1": {Name: "net%d"}, "eth0": {Name: "net%d"}}
	s.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
		{Path: "/dev/loop0", Type: "b", Major: 7, Minor: 0, FileMode: ptr(fs.FileMode(0o20660)), UID: ptr(uint32(5)), GID: ptr(uint32(6))},
		{Path: "/dev/pipe", Type: "p"},
	}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data", Source: "data", Options: []string{"rbind", "rro", "private"}},
		specs.Mount{Destination: "/srv/", Type: "bind", Source: "/srv", Options: []string{"idmap"},
			UIDMappings: []specs.LinuxIDMapping{{HostID: 100000, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{HostID: 200000, Size: 1}}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}},
	)
	s.Process.User = specs.User{UID: 1, GID: 2, AdditionalGids: []uint32{3, 4}, Umask: ptr(uint32(0o22))}
	s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_RTTIME", Soft: 1, Hard: 2})
	s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10}
	s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "7", Final: "0-2,7"}
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	s.Hooks = &specs.Hooks{
		Prestart:  []specs.Hook{{Path: "/bin/old"}},
		Poststart: []specs.Hook{{Path: "/bin/hook", Args: []string{"hook", "x"}, Env: []string{"A=b"}, Timeout: ptr(5)}},
	}

	c, err := Convert(s, Options{Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if c.Rootfs != filepath.Join(bundle, "rootfs") {
		t.Errorf("rootfs %q: symlink not resolved", c.Rootfs)
	}
	if c.Domainname != "example.org" || c.Annotations["a"] != "b" || c.Sysctl["net.ipv4.ip_forward"] != "1" || c.CgroupsPath != "/barco/x" {
		t.Errorf("pass-through fields: %q %v %v %q", c.Domainname, c.Annotations, c.Sysctl, c.CgroupsPath)
	}
	if c.RootPropagation != unix.MS_SHARED|unix.MS_REC {
		t.Errorf("root propagation %#x", c.RootPropagation)
	}
	if !c.NewNamespace(configs.NEWUSER) || len(c.UIDMappings) != 1 || c.UIDMappings[0].HostID != 100000 || c.GIDMappings[0].HostID != 200000 {
		t.Errorf("user namespace %v uid %v gid %v", c.Namespaces, c.UIDMappings, c.GIDMappings)
	}
	if c.TimeOffsets["boottime"].Secs != 5 {
		t.Errorf("time offsets %v", c.TimeOffsets)
	}
	if a := c.Process.ExecCPUAffinity; a == nil || !slices.Equal(a.Initial, []int{7}) || !slices.Equal(a.Final, []int{0, 1, 2, 7}) {
		t.Errorf("exec CPU affinity %+v", a)
	}
	// Sorted by host name; two may share a template.
	wantNet := []configs.NetDevice{{HostName: "eth0", Name: "net%d"}, {HostName: "eth1", Name: "net%d"}, {HostName: "veth9"}}
	if !slices.Equal(c.NetDevices, wantNet) {
		t.Errorf("net devices %v, want %v", c.NetDevices, wantNet)
	}
	wantDev := []configs.Device{
		{Path: "/dev/fuse", Type: 'c', Major: 10, Minor: 229, FileMode: 0o666},
		{Path: "/dev/loop0", Type: 'b', Major: 7, Minor: 0, FileMode: 0o660, UID: 5, GID: 6},
		{Path: "/dev/pipe", Type: 'p', FileMode: 0o666},
	}
	if !reflect.DeepEqual(c.Devices, wantDev) {
		t.Errorf("devices %+v\nwant %+v", c.Devices, wantDev)
	}

	data := c.Mounts[7]
	if data.Source != filepath.Join(bundle, "data") || data.Type != "bind" || data.Flags != unix.MS_BIND|unix.MS_REC ||
		data.RecAttrSet != unix.MOUNT_ATTR_RDONLY || !reflect.DeepEqual(data.PropagationFlags, []uint64{unix.MS_PRIVATE}) {
		t.Errorf("/data mount %+v", data)
	}
	srv := c.Mounts[8]
	if srv.Destination != "/srv" || !srv.IsBind() || srv.Flags != unix.MS_BIND || len(srv.UIDMappings) != 1 || len(srv.GIDMappings) != 1 {
		t.Errorf("/srv mount %+v", srv)
	}
	if tmp := c.Mounts[9]; !tmp.TmpCopyUp || tmp.Data != "" {
		t.Errorf("/tmp mount %+v", tmp)
	}

	p := c.Process
	if p.UID != 1 || p.GID != 2 || !reflect.DeepEqual(p.AdditionalGids, []uint32{3, 4}) || *p.Umask != 0o22 {
		t.Errorf("user %d:%d %v %v", p.UID, p.GID, p.AdditionalGids, p.Umask)
	}
	if p.ConsoleHeight != 24 || p.ConsoleWidth != 80 {
		t.Errorf("console %dx%d", p.ConsoleWidth, p.ConsoleHeight)
	}
	if p.Rlimits[1] != (configs.Rlimit{Type: 15, Soft: 1, Hard: 2}) {
		t.Errorf("RLIMIT_RTTIME converted to %+v", p.Rlimits[1])
	}
	if p.Scheduler == nil || p.Scheduler.Priority != 10 || p.Personality == nil || p.Personality.Domain != specs.PerLinux32 {
		t.Errorf("scheduler %+v personality %+v", p.Scheduler, p.Personality)
	}
	wantHooks := configs.Hooks{
		Prestart:  []configs.Hook{{Path: "/bin/old", Args: nil, Env: nil}},
		Poststart: []configs.Hook{{Path: "/bin/hook", Args: []string{"hook", "x"}, Env: []string{"A=b"}, Timeout: 5}},
	}
	if !reflect.DeepEqual(c.Hooks, wantHooks) {
		t.Errorf("hooks %+v\nwant %+v", c.Hooks, wantHooks)
	}
}

func TestConvertConsoleSizeNeedsTerminal(t *testing.T) {
	s := Example()
	s.Process.Terminal = false
	s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	c, err := Convert(s, Options{Bundle: newBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Process.ConsoleHeight != 0 || c.Process.ConsoleWidth != 0 {
		t.Errorf("console size %dx%d kept without a terminal", c.Process.ConsoleWidth, c.Process.ConsoleHeight)
	}
}

func TestConvertVersions(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.2.1", "1.3.0-rc.1", "1.0.2-dev", "1.1.0+build"} {
		s := Example()
		s.Version = v
		if _, err := Convert(s, Options{Bundle: newBundle(t)}); err != nil {
			t.Errorf("version %q rejected: %v", v, err)
		}
	}
}

func TestConvertJoinedUserNamespace(t *testing.T) {
	// A joined user namespace brings its own maps, so none are required.
	s := Example()
	addNamespace(s, specs.UserNamespace, "/proc/1/ns/user")
	c, err := Convert(s, Options{Bundle: newBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	if ns, ok := c.Namespace(configs.NEWUSER); !ok || ns.Path != "/proc/1/ns/user" || c.NewNamespace(configs.NEWUSER) {
		t.Errorf("user namespace %+v %v", ns, ok)
	}
}

// A pod member sets the hostname of the uts namespace it joins, as runc
// allows.
func TestConvertHostnameInJoinedUTS(t *testing.T) {
	s := Example()
	setNamespacePath(s, specs.UTSNamespace, "/proc/1/ns/uts")
	c, err := Convert(s, Options{Bundle: newBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != s.Hostname {
		t.Errorf("hostname %q", c.Hostname)
	}
}

// runtime-spec requires process only when start is called: create accepts
// a config without one.
func TestConvertWithoutProcess(t *testing.T) {
	s := Example()
	s.Process = nil
	c, err := Convert(s, Options{Bundle: newBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Process.Args) != 0 {
		t.Errorf("process args %v, want none", c.Process.Args)
	}
}

// Device numbers are meaningless for a fifo and ignored, not an error.
func TestConvertFifoIgnoresNumbers(t *testing.T) {
	s := Example()
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/pipe", Type: "p", Major: 1, Minor: 2}}
	c, err := Convert(s, Options{Bundle: newBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Devices[0]; d.Type != 'p' || d.Major != 0 || d.Minor != 0 {
		t.Errorf("fifo device %+v", d)
	}
}
