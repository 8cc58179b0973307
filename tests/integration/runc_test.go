package integration

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// requireRunc returns the path of runc, skipping the test if there is none.
func requireRunc(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed; nothing to compare with")
	}
	return path
}

// runcInCgroup2 runs runc in a private mount namespace with the cgroup2
// hierarchy mounted at /sys/fs/cgroup. On a hybrid host runc would otherwise
// use the cgroup v1 hierarchies, which the tests must never write to.
func runcInCgroup2(t *testing.T, runc string, args ...string) result {
	t.Helper()
	script := `mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$@"`
	return runCmd(t, "unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, runc}, args...)...)
}

func TestCompareRunWithRunc(t *testing.T) {
	runc := requireRunc(t)
	c := newRuntime(t).newContainer("sh", "-c", "echo hi; id; hostname; ls /")
	// The defaults differ ("barco" and "runc"); everything else is the
	// spec barco wrote.
	c.spec.Hostname = "same"

	runcID := "runc-" + c.id
	runcSpec := *c.spec
	runcLinux := *c.spec.Linux
	runcLinux.CgroupsPath = "/" + testCgroupParent + "/" + runcID
	runcSpec.Linux = &runcLinux
	runcBundle := filepath.Join(t.TempDir(), "bundle")
	if err := os.MkdirAll(runcBundle, 0o755); err != nil {
		t.Fatal(err)
	}
	copyRootfs(t, filepath.Join(runcBundle, "rootfs"))
	data, err := json.MarshalIndent(&runcSpec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(runcBundle, "config.json"), string(data))
	runcRoot := filepath.Join(t.TempDir(), "runc")
	t.Cleanup(func() {
		runcInCgroup2(t, runc, "--root", runcRoot, "delete", "--force", runcID)
		if err := removeCgroup(testCgroupDir(runcID)); err != nil {
			t.Error(err)
		}
	})

	want := runcInCgroup2(t, runc, "--root", runcRoot, "run", "--bundle", runcBundle, runcID)
	if want.Code != 0 {
		t.Fatalf("runc failed\n%s", want)
	}
	got := c.run()
	if got.Code != 0 {
		t.Fatalf("barco failed\n%s", got)
	}
	if got.Stdout != want.Stdout {
		t.Errorf("output differs\nbarco:\n%s\nrunc:\n%s", got.Stdout, want.Stdout)
	}
}

func TestCompareSpecWithRunc(t *testing.T) {
	runc := requireRunc(t)
	requireEnv(t)
	barcoDir := t.TempDir()
	barcoSpec := defaultSpec(t, barcoDir)
	runcDir := t.TempDir()
	if res := runCmd(t, runc, "spec", "--bundle", runcDir); res.Code != 0 {
		t.Fatalf("runc spec failed\n%s", res)
	}
	var runcSpec specs.Spec
	readJSON(t, filepath.Join(runcDir, "config.json"), &runcSpec)

	// Keys are compared on the files as written, so a field one side sets
	// and the other omits shows up even if the Go types would drop it.
	bk := jsonKeys(t, filepath.Join(barcoDir, "config.json"))
	rk := jsonKeys(t, filepath.Join(runcDir, "config.json"))
	for section, keys := range rk {
		if !slices.Equal(bk[section], keys) {
			t.Errorf("keys of %s: barco %v, runc %v", section, bk[section], keys)
		}
	}

	mountDsts := func(s *specs.Spec) []string {
		var out []string
		for _, m := range s.Mounts {
			out = append(out, m.Destination)
		}
		return out
	}
	if b, r := sorted(mountDsts(barcoSpec)), sorted(mountDsts(&runcSpec)); !slices.Equal(b, r) {
		t.Errorf("mount destinations: barco %v, runc %v", b, r)
	}

	nsTypes := func(s *specs.Spec) []string {
		var out []string
		for _, ns := range s.Linux.Namespaces {
			out = append(out, string(ns.Type))
		}
		return out
	}
	// runc adds the cgroup namespace when the host is cgroup v2 only (and
	// older releases never do), so it is the one allowed difference.
	assertSameOrNewer(t, "namespaces", nsTypes(barcoSpec), nsTypes(&runcSpec), "cgroup")
	// Newer runc releases mask more of sysfs.
	assertSameOrNewer(t, "maskedPaths", barcoSpec.Linux.MaskedPaths, runcSpec.Linux.MaskedPaths,
		"/sys/devices/virtual/powercap", "/sys/devices/virtual/tpm")
	if b, r := sorted(barcoSpec.Linux.ReadonlyPaths), sorted(runcSpec.Linux.ReadonlyPaths); !slices.Equal(b, r) {
		t.Errorf("readonlyPaths: barco %v, runc %v", b, r)
	}
	if barcoSpec.Hostname != "barco" {
		t.Errorf("default hostname %q, want barco", barcoSpec.Hostname)
	}
	if !barcoSpec.Process.Terminal || !slices.Equal(barcoSpec.Process.Args, []string{"sh"}) ||
		barcoSpec.Root.Path != "rootfs" || !barcoSpec.Root.Readonly || !barcoSpec.Process.NoNewPrivileges {
		t.Errorf("default spec differs from the documented defaults: process %+v, root %+v", barcoSpec.Process, barcoSpec.Root)
	}
}

// jsonKeys returns the sorted keys of a config.json and of its process,
// root and linux objects.
func jsonKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	var top map[string]json.RawMessage
	readJSON(t, path, &top)
	out := map[string][]string{"top": sorted(slices.Collect(maps.Keys(top)))}
	for _, section := range []string{"process", "root", "linux"} {
		var m map[string]json.RawMessage
		if raw, ok := top[section]; ok {
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
		}
		out[section] = sorted(slices.Collect(maps.Keys(m)))
	}
	return out
}

// assertSameOrNewer checks that barco's list holds everything runc's holds
// and that anything more is among the entries newer runc releases added.
func assertSameOrNewer(t *testing.T, what string, barco, runc []string, newer ...string) {
	t.Helper()
	for _, r := range runc {
		if !slices.Contains(barco, r) {
			t.Errorf("%s: barco lacks %q (barco %v, runc %v)", what, r, barco, runc)
		}
	}
	for _, b := range barco {
		if !slices.Contains(runc, b) && !slices.Contains(newer, b) {
			t.Errorf("%s: barco has %q, which runc does not (barco %v, runc %v)", what, b, barco, runc)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
