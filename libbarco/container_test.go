package libbarco

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/state"
)

// The config saved by create is what later commands read back.
func TestStoredConfig(t *testing.T) {
	store, err := state.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := store.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := &Container{ID: "c1", h: h}
	oom := 5
	cfg := &configs.Config{
		OCIVersion: "1.2.0", Bundle: "/b", Rootfs: "/b/rootfs", CgroupsPath: "/x/c1",
		Namespaces:  []configs.Namespace{{Type: configs.NEWPID}, {Type: configs.NEWNET, Path: "/proc/1/ns/net"}},
		UIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}},
		Mounts:      []configs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Resources:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(3))}},
		Seccomp:     &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}},
		Process: configs.Process{
			Args: []string{"sh"}, Env: []string{"A=1"}, Cwd: "/w", UID: 7, OOMScoreAdj: &oom,
			Capabilities: &configs.Capabilities{Bounding: []string{"CAP_KILL"}},
			Rlimits:      []configs.Rlimit{{Type: 7, Soft: 1, Hard: 2}},
		},
		Hooks:       configs.Hooks{Poststart: []configs.Hook{{Path: "/p"}}, Poststop: []configs.Hook{{Path: "/q", Args: []string{"q", "1"}}}},
		Annotations: map[string]string{"k": "v"},
	}
	if err := c.saveConfig(cfg); err != nil {
		t.Fatal(err)
	}

	// A later command reads it back from the file.
	later := &Container{ID: "c1", h: h}
	got, err := later.Config()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("stored config read back as\n%+v\nwant\n%+v", got, cfg)
	}
	// Each caller gets its own top-level struct: exec swaps the process.
	got.Process = configs.Process{Args: []string{"other"}}
	p, err := later.ProcessConfig()
	if err != nil || !reflect.DeepEqual(*p, cfg.Process) {
		t.Errorf("ProcessConfig = %+v, %v", p, err)
	}
}

func ptr[T any](v T) *T { return &v }
