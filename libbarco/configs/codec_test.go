package configs

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/internal/fill"
)

func ptr[T any](v T) *T { return &v }

// full sets a value in every field of Config, nested ones included.
func full() *Config {
	return &Config{
		OCIVersion: "1.3.0", Bundle: "/b", Rootfs: "/b/rootfs", Readonly: true,
		Hostname: "h", Domainname: "d",
		Namespaces:  []Namespace{{Type: NEWPID}, {Type: NEWNET, Path: "/proc/1/ns/net"}},
		UIDMappings: []IDMap{{ContainerID: 0, HostID: 1000, Size: 10}},
		GIDMappings: []IDMap{{ContainerID: 1, HostID: 2000, Size: 20}},
		Mounts: []Mount{{
			Source: "/src", Destination: "/dst", Type: "bind", Flags: 1<<12 | 1<<14, ClearFlags: 2,
			PropagationFlags: []uint64{1 << 18, 1<<19 | 1<<14}, RecAttrSet: 1, RecAttrClr: 4,
			Data: "mode=755", TmpCopyUp: true,
			UIDMappings: []IDMap{{0, 1, 2}}, GIDMappings: []IDMap{{3, 4, 5}}, IDMapRecursive: true,
		}},
		RootPropagation: 1<<19 | 1<<14,
		Devices:         []Device{{Path: "/dev/x", Type: 'c', Major: 1, Minor: 3, FileMode: 0o666, UID: 1, GID: 2}},
		MaskedPaths:     []string{"/proc/kcore"},
		ReadonlyPaths:   []string{"/proc/sys"},
		Sysctl:          map[string]string{"net.ipv4.ip_forward": "1"},
		CgroupsPath:     "/x/c1",
		Resources: &specs.LinuxResources{
			Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr(int64(1)), Access: "rwm"}},
			Memory:  &specs.LinuxMemory{Limit: ptr(int64(1 << 20)), Swappiness: ptr(uint64(10))},
			CPU:     &specs.LinuxCPU{Shares: ptr(uint64(512)), Cpus: "0-1", Idle: ptr(int64(1))},
			Pids:    &specs.LinuxPids{Limit: ptr(int64(3))},
			BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(100)),
				ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 5}}},
			HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4}},
			Unified:        map[string]string{"memory.high": "max"},
		},
		Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno, DefaultErrnoRet: ptr(uint(1)),
			Architectures: []specs.Arch{specs.ArchX86_64}, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"},
			ListenerPath: "/l", ListenerMetadata: "m",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 2, ValueTwo: 3, Op: specs.OpEqualTo}}}},
		},
		TimeOffsets:  map[string]specs.LinuxTimeOffset{"monotonic": {Secs: -5, Nanosecs: 7}},
		MemoryPolicy: &MemoryPolicy{Mode: 2 | 1<<15, Nodemask: []uint64{3, 1 << 63}},
		MountLabel:   "label",
		Process: Process{
			Args: []string{"sh", "-c", "echo \"ü\" <&>"}, Env: []string{"A=1"}, Cwd: "/w",
			UID: 7, GID: 8, AdditionalGids: []uint32{9}, Umask: ptr(uint32(0o22)),
			Terminal: true, ConsoleHeight: 24, ConsoleWidth: 80,
			Capabilities:    &Capabilities{Bounding: []string{"kill"}, Effective: []string{"chown"}, Inheritable: []string{}, Permitted: []string{"kill"}, Ambient: nil},
			Rlimits:         []Rlimit{{Type: 7, Soft: 1, Hard: ^uint64(0)}},
			NoNewPrivileges: true, OOMScoreAdj: ptr(-500),
			ApparmorProfile: "a", SelinuxLabel: "s",
			Scheduler:   &specs.Scheduler{Policy: specs.SchedOther, Nice: -1, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}},
			IOPriority:  &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 4},
			Personality: &specs.LinuxPersonality{Domain: specs.PerLinux32},
		},
		Hooks: Hooks{
			Prestart: []Hook{{Path: "/a"}}, CreateRuntime: []Hook{{Path: "/b", Args: []string{"b"}}},
			CreateContainer: []Hook{{Path: "/c", Env: []string{"C=1"}}}, StartContainer: []Hook{{Path: "/d", Timeout: 3}},
			Poststart: []Hook{{Path: "/e"}}, Poststop: []Hook{{Path: "/f"}},
		},
		Annotations: map[string]string{"k": "v"},
	}
}

// The stored form survives a round trip, and it is the JSON encoding/json
// reads and writes: a config stored by an older barco still loads.
func TestCodecRoundTrip(t *testing.T) {
	for _, cfg := range []*Config{full(), {}} {
		data, err := Encode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var back Config
		if err := Decode(data, &back); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		if !reflect.DeepEqual(&back, cfg) {
			t.Errorf("round trip changed the config:\n%+v\nwant\n%+v", &back, cfg)
		}
		var std Config
		if err := json.Unmarshal(data, &std); err != nil || !reflect.DeepEqual(&std, cfg) {
			t.Errorf("encoding/json reads the stored form as %+v, %v", &std, err)
		}
		old, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var fromOld Config
		if err := Decode(old, &fromOld); err != nil || !reflect.DeepEqual(&fromOld, cfg) {
			t.Errorf("the form encoding/json writes decodes as %+v, %v", &fromOld, err)
		}
	}
}

// The generated codec knows every field: one added to the types without a
// `make generate` would be lost on the way through the stored form.
func TestCodecCoversEveryField(t *testing.T) {
	var cfg Config
	fill.Fill(&cfg)
	data, err := Encode(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := Decode(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, &cfg) {
		t.Errorf("fields lost through the stored form (run make generate):\n%+v\nwant\n%+v", &back, &cfg)
	}
}

// A config larger than Encode's first buffer is encoded the same.
func TestEncodeOutgrowsBuffer(t *testing.T) {
	var cfg Config
	fill.Fill(&cfg)
	want, err := encode(&cfg, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, 64, len(want) - 1, len(want)} {
		got, err := encode(&cfg, size)
		if err != nil || string(got) != string(want) {
			t.Errorf("with a %d-byte buffer: %v\n%s\nwant\n%s", size, err, got, want)
		}
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	for _, in := range []string{``, `{`, `{"Bundle": 1}`, `{"Mounts": [{"Flags": -1}]}`, `{} x`} {
		var c Config
		if err := Decode([]byte(in), &c); err == nil {
			t.Errorf("Decode(%q) succeeded", in)
		}
	}
}
