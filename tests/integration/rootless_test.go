package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const rootlessUser = "barco-rootless"

// rootlessEnv creates (once per test, removed afterwards) an unprivileged
// user, a bundle it owns from `barco spec --rootless`, and its runtime dir.
type rootlessEnv struct {
	t        *testing.T
	uid, gid int
	dir      string // the user's XDG_RUNTIME_DIR and bundle live here
	bundle   string
}

func newRootless(t *testing.T) *rootlessEnv {
	t.Helper()
	requireEnv(t)
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		if res := runCmd(t, "useradd", "--no-create-home", "--shell", "/bin/sh", rootlessUser); res.Code != 0 {
			t.Skipf("cannot create a test user\n%s", res)
		}
		t.Cleanup(func() { runCmd(t, "userdel", rootlessUser) })
		if u, err = user.Lookup(rootlessUser); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); d != "/tmp" && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	e := &rootlessEnv{t: t, uid: uid, gid: gid, dir: dir, bundle: filepath.Join(dir, "bundle")}
	if err := os.Mkdir(e.bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	copyRootfs(t, filepath.Join(e.bundle, "rootfs"))
	for _, p := range []string{filepath.Join(dir, "xdg")} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if res := runCmd(t, "chown", "-R", fmt.Sprintf("%d:%d", uid, gid), dir); res.Code != 0 {
		t.Fatalf("chown\n%s", res)
	}
	t.Cleanup(func() {
		// Whatever the user left running goes with it.
		e.barco("delete", "--force", "r1")
		e.barco("delete", "--force", "r2")
	})
	return e
}

// barco runs the binary as the unprivileged user, with its default --root.
func (e *rootlessEnv) barco(args ...string) result {
	e.t.Helper()
	cmd := append([]string{
		fmt.Sprintf("--reuid=%d", e.uid), fmt.Sprintf("--regid=%d", e.gid), "--clear-groups",
		"env", "XDG_RUNTIME_DIR=" + filepath.Join(e.dir, "xdg"), "HOME=" + e.dir,
		env.binary,
	}, args...)
	return runCmd(e.t, "setpriv", cmd...)
}

func (e *rootlessEnv) editSpec(f func(*specs.Spec)) {
	e.t.Helper()
	path := filepath.Join(e.bundle, "config.json")
	var s specs.Spec
	readJSON(e.t, path, &s)
	f(&s)
	data, _ := json.MarshalIndent(&s, "", "\t")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func TestRootlessRun(t *testing.T) {
	e := newRootless(t)
	if res := e.barco("spec", "--rootless", "--bundle", e.bundle); res.Code != 0 {
		t.Fatalf("spec --rootless\n%s", res)
	}
	e.editSpec(func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/x && echo writable"}
		s.Root.Readonly = false
	})
	res := e.barco("run", "--bundle", e.bundle, "r1")
	if res.Code != 0 {
		t.Fatalf("rootless run\n%s", res)
	}
	out := strings.Fields(res.Stdout)
	if len(out) != 5 || out[0] != "0" || out[1] != "0" || out[2] != strconv.Itoa(e.uid) || out[3] != "1" || out[4] != "writable" {
		t.Errorf("inside a rootless container: %q", out)
	}
	// The state lives under the user's runtime dir.
	if _, err := os.Stat(filepath.Join(e.dir, "xdg", "barco")); err != nil {
		t.Errorf("no state root under XDG_RUNTIME_DIR: %v", err)
	}
	if strings.Contains(res.Stderr, "level=warn") && !strings.Contains(res.Stderr, "cgroup") {
		t.Errorf("unexpected warning\n%s", res)
	}
}

func TestRootlessLifecycle(t *testing.T) {
	e := newRootless(t)
	e.barco("spec", "--rootless", "--bundle", e.bundle)
	e.editSpec(func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sleep", "1000"}
	})
	if res := e.barco("create", "--bundle", e.bundle, "r2"); res.Code != 0 {
		t.Fatalf("create\n%s", res)
	}
	if res := e.barco("start", "r2"); res.Code != 0 {
		t.Fatalf("start\n%s", res)
	}
	res := e.barco("state", "r2")
	if !strings.Contains(res.Stdout, `"running"`) {
		t.Fatalf("state\n%s", res)
	}
	if res := e.barco("exec", "r2", "id", "-u"); res.Code != 0 || strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("rootless exec\n%s", res)
	}
	if res := e.barco("delete", "--force", "r2"); res.Code != 0 {
		t.Fatalf("delete\n%s", res)
	}
	if res := e.barco("list", "-q"); strings.TrimSpace(res.Stdout) != "" {
		t.Errorf("left in list: %q", res.Stdout)
	}
}

// Limits need a cgroup the user may write; without one that is an error,
// not a silent container without limits.
func TestRootlessLimitsNeedDelegation(t *testing.T) {
	e := newRootless(t)
	e.barco("spec", "--rootless", "--bundle", e.bundle)
	limit := int64(1000)
	e.editSpec(func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
	})
	res := e.barco("run", "--bundle", e.bundle, "r1")
	if res.Code == 0 {
		t.Fatalf("rootless run with a pids limit and no delegated cgroup succeeded\n%s", res)
	}
	if !strings.Contains(res.Stderr, "pids") {
		t.Errorf("error does not name the limit\n%s", res)
	}
}

// With ranges in /etc/subuid and /etc/subgid, newuidmap/newgidmap map more
// than the user's own id.
func TestRootlessSubordinateIDs(t *testing.T) {
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Skip("newuidmap is not installed (package uidmap)")
	}
	e := newRootless(t)
	line := rootlessUser + ":300000:65536\n"
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		orig, _ := os.ReadFile(f)
		if err := os.WriteFile(f, append(append([]byte{}, orig...), line...), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.WriteFile(f, orig, 0o644) })
	}
	e.barco("spec", "--rootless", "--bundle", e.bundle)
	e.editSpec(func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sh", "-c", "cat /proc/self/uid_map; chown 1000:1000 /tmp && stat -c %u /tmp"}
		s.Root.Readonly = false
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_CHOWN")
		s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_CHOWN")
		s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_CHOWN")
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(e.uid), Size: 1}, {ContainerID: 1, HostID: 300000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(e.gid), Size: 1}, {ContainerID: 1, HostID: 300000, Size: 65536}}
	})
	res := e.barco("run", "--bundle", e.bundle, "r1")
	if res.Code != 0 {
		t.Fatalf("rootless run with subordinate ids\n%s", res)
	}
	out := strings.Fields(res.Stdout)
	want := []string{"0", strconv.Itoa(e.uid), "1", "1", "300000", "65536", "1000"}
	if strings.Join(out, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", out, want)
	}
}
