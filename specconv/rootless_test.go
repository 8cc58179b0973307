package specconv

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestToRootless(t *testing.T) {
	s := Example()
	ToRootless(s, 1000, 1001)
	var types []string
	for _, ns := range s.Linux.Namespaces {
		types = append(types, string(ns.Type))
	}
	if slices.Contains(types, "network") || !slices.Contains(types, "user") {
		t.Errorf("namespaces %v: want user and no network", types)
	}
	if m := s.Linux.UIDMappings; len(m) != 1 || m[0] != (specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 1}) {
		t.Errorf("uid mappings %v", m)
	}
	if m := s.Linux.GIDMappings; len(m) != 1 || m[0].HostID != 1001 {
		t.Errorf("gid mappings %v", m)
	}
	if s.Linux.Resources != nil {
		t.Errorf("resources kept: %+v", s.Linux.Resources)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && (m.Source != "/sys" || !slices.Contains(m.Options, "rbind")) {
			t.Errorf("/sys mount %+v, want an rbind of the host's", m)
		}
		for _, o := range m.Options {
			if strings.HasPrefix(o, "gid=") || strings.HasPrefix(o, "uid=") {
				t.Errorf("%s keeps option %s", m.Destination, o)
			}
		}
	}
	// The result must still be a valid config.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(s, Options{Bundle: dir}); err != nil {
		t.Fatalf("rootless spec does not convert: %v", err)
	}
}
