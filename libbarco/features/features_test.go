package features

import (
	"encoding/json"
	"github.com/barco-oci/barco/libbarco/seccomp"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/specconv"
)

// minimalSpec is the default spec with a rootfs that exists, so that
// specconv.Convert gets past its one side effect.
func minimalSpec(t *testing.T) *specs.Spec {
	t.Helper()
	s := specconv.Example()
	s.Root.Path = t.TempDir()
	return s
}

func TestJSONRoundTrip(t *testing.T) {
	f := Get("1.2.3", "abc123")
	data, err := json.MarshalIndent(f, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	var back features.Features
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, f) {
		t.Errorf("round trip changed the features:\n%s", data)
	}
	// Explicit false values must survive: omitted would mean "unknown".
	for _, field := range []string{`"v1": false`, `"systemdUser": false`, `"apparmor": {`, `"idmap": {`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("JSON lacks %s:\n%s", field, data)
		}
	}
}

func TestAnnotations(t *testing.T) {
	f := Get("1.2.3", "abc123")
	want := map[string]string{AnnotationVersion: "1.2.3", AnnotationCommit: "abc123", AnnotationLibseccomp: seccomp.Version()}
	if !reflect.DeepEqual(f.Annotations, want) {
		t.Errorf("annotations %v, want %v", f.Annotations, want)
	}
}

func TestVersionsAcceptedBySpecconv(t *testing.T) {
	f := Get("v", "c")
	if f.OCIVersionMax != specs.Version {
		t.Errorf("ociVersionMax %q, want %q", f.OCIVersionMax, specs.Version)
	}
	for _, v := range []string{f.OCIVersionMin, f.OCIVersionMax} {
		s := minimalSpec(t)
		s.Version = v
		if _, err := specconv.Convert(s, specconv.Options{}); err != nil {
			t.Errorf("ociVersion %q is claimed but rejected: %v", v, err)
		}
	}
}

func TestNamespaces(t *testing.T) {
	got := Get("v", "c").Linux.Namespaces
	var want []string
	for _, ns := range configs.AllNamespaces {
		want = append(want, string(ns))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("namespaces %v, want %v", got, want)
	}
	spellings := []specs.LinuxNamespaceType{
		specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace, specs.TimeNamespace,
	}
	for _, ns := range spellings {
		if !slices.Contains(got, string(ns)) {
			t.Errorf("runtime-spec namespace %q is not claimed", ns)
		}
	}
}

func TestCapabilities(t *testing.T) {
	got := Get("v", "c").Linux.Capabilities
	if len(got) == 0 {
		t.Fatal("no capabilities listed")
	}
	seen := map[string]bool{}
	for _, c := range got {
		if !strings.HasPrefix(c, "CAP_") || c != strings.ToUpper(c) {
			t.Errorf("capability %q is not spelled as in config.json", c)
		}
		if seen[c] {
			t.Errorf("capability %q listed twice", c)
		}
		seen[c] = true
	}
	for _, c := range []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE"} {
		if !seen[c] {
			t.Errorf("%s missing from %v", c, got)
		}
	}
	// All of them together must pass validation.
	s := minimalSpec(t)
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: got, Effective: got, Permitted: got}
	if _, err := specconv.Convert(s, specconv.Options{}); err != nil {
		t.Errorf("listed capabilities are rejected: %v", err)
	}
}

func TestHooksAcceptedBySpecconv(t *testing.T) {
	kinds := Hooks()
	want := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("hooks %v, want %v", kinds, want)
	}
	// Decode one hook per listed kind from JSON, so a misspelt kind would
	// be silently dropped by the decoder and show up as a missing hook.
	hooks := map[string][]specs.Hook{}
	for _, k := range kinds {
		hooks[k] = []specs.Hook{{Path: "/bin/" + k}}
	}
	data, err := json.Marshal(hooks)
	if err != nil {
		t.Fatal(err)
	}
	s := minimalSpec(t)
	s.Hooks = &specs.Hooks{}
	if err := json.Unmarshal(data, s.Hooks); err != nil {
		t.Fatal(err)
	}
	c, err := specconv.Convert(s, specconv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]configs.Hook{
		"prestart":        c.Hooks.Prestart,
		"createRuntime":   c.Hooks.CreateRuntime,
		"createContainer": c.Hooks.CreateContainer,
		"startContainer":  c.Hooks.StartContainer,
		"poststart":       c.Hooks.Poststart,
		"poststop":        c.Hooks.Poststop,
	}
	for _, k := range kinds {
		if len(got[k]) != 1 || got[k][0].Path != "/bin/"+k {
			t.Errorf("hook kind %q did not reach the engine config: %+v", k, got[k])
		}
	}
}

func TestMountOptionsSortedAndUnique(t *testing.T) {
	opts := MountOptions()
	if !slices.IsSorted(opts) {
		t.Errorf("mount options are not sorted: %v", opts)
	}
	if len(slices.Compact(slices.Clone(opts))) != len(opts) {
		t.Errorf("mount options hold duplicates: %v", opts)
	}
}

// TestMountOptionsInterpretedBySpecconv keeps the list honest: each listed
// option must be accepted by specconv and understood by it, that is turned
// into flags or settings rather than handed to the filesystem as data
// (where specconv puts any option it does not know).
func TestMountOptionsInterpretedBySpecconv(t *testing.T) {
	convert := func(t *testing.T, m specs.Mount) configs.Mount {
		t.Helper()
		s := minimalSpec(t)
		s.Mounts = []specs.Mount{m}
		c, err := specconv.Convert(s, specconv.Options{})
		if err != nil {
			t.Fatalf("mount options %v: %v", m.Options, err)
		}
		return c.Mounts[0]
	}
	for _, opt := range MountOptions() {
		t.Run(opt, func(t *testing.T) {
			m := specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs"}
			if opt == "bind" || opt == "rbind" {
				m = specs.Mount{Destination: "/mnt", Type: "none", Source: t.TempDir()}
			}
			if opt == "idmap" || opt == "ridmap" {
				// An idmapped mount is a bind mount with mappings.
				m = specs.Mount{Destination: "/mnt", Type: "bind", Source: t.TempDir(), Options: []string{"rbind"},
					UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
					GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}}
			}
			plainMount := m
			plainMount.UIDMappings, plainMount.GIDMappings = nil, nil
			plain := convert(t, plainMount)
			m.Options = append(m.Options, opt)
			got := convert(t, m)
			if got.Data != "" {
				t.Errorf("option %q is passed to the filesystem as data %q", opt, got.Data)
			}
			// "defaults" is the one option that means "nothing".
			if opt != "defaults" && reflect.DeepEqual(got, plain) {
				t.Errorf("option %q changes nothing in the converted mount", opt)
			}
		})
	}
}
