package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/tests/internal/names"
	"github.com/barco-oci/barco/tests/internal/procs"
)

// runtime is one --root directory: the state store a test's containers
// share.
type runtime struct {
	t    *testing.T
	root string
}

// newRuntime skips the test if the suite cannot run, and gives it its own
// empty --root.
func newRuntime(t *testing.T) *runtime {
	t.Helper()
	requireEnv(t)
	return &runtime{t: t, root: filepath.Join(t.TempDir(), "state")}
}

// barco runs the binary with this runtime's --root.
func (r *runtime) barco(args ...string) result {
	r.t.Helper()
	return runCmd(r.t, env.binary, append([]string{"--root", r.root}, args...)...)
}

// mustBarco runs barco and fails the test unless it exits 0.
func (r *runtime) mustBarco(args ...string) result {
	r.t.Helper()
	res := r.barco(args...)
	if res.Code != 0 {
		r.t.Fatalf("expected success\n%s", res)
	}
	return res
}

// container is a bundle (config.json from `barco spec` plus a copy of the
// busybox rootfs) and the id it runs under.
type container struct {
	*runtime
	id     string
	bundle string
	// cgroup is the leaf name under /barco-test-<pid>; it equals id unless the id
	// itself is not a usable path component.
	cgroup string
	spec   *specs.Spec
}

// newContainer makes a bundle running args, with terminal off and the cgroup
// under /barco-test-<pid> so leftovers can be found. On cleanup the container is
// force-deleted and every trace of it must be gone.
func (r *runtime) newContainer(args ...string) *container {
	r.t.Helper()
	id := uniqueID(r.t)
	c := &container{runtime: r, id: id, cgroup: id, bundle: filepath.Join(r.t.TempDir(), "bundle")}
	c.spec = defaultSpec(r.t, c.bundle)
	copyRootfs(r.t, filepath.Join(c.bundle, "rootfs"))
	c.spec.Process.Terminal = false
	if len(args) > 0 {
		c.spec.Process.Args = args
	}
	c.spec.Linux.CgroupsPath = "/" + testCgroupParent + "/" + c.cgroup
	c.save()
	r.t.Cleanup(func() {
		r.barco("delete", "--force", c.id)
		c.assertNothingLeft()
	})
	return c
}

// defaultSpec runs `barco spec` in dir (created if needed) and parses the
// result.
func defaultSpec(t *testing.T, dir string) *specs.Spec {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	res := runCmd(t, env.binary, "spec", "--bundle", dir)
	if res.Code != 0 {
		t.Fatalf("barco spec failed\n%s", res)
	}
	var s specs.Spec
	readJSON(t, filepath.Join(dir, "config.json"), &s)
	if s.Process == nil || s.Linux == nil || s.Root == nil {
		t.Fatalf("barco spec: config.json lacks process, root or linux: %+v", s)
	}
	return &s
}

func copyRootfs(t *testing.T, dst string) {
	t.Helper()
	res := runCmd(t, "cp", "-a", env.rootfs, dst)
	if res.Code != 0 {
		t.Fatalf("copy rootfs\n%s", res)
	}
}

// save writes the (possibly edited) spec to the bundle's config.json.
func (c *container) save() {
	c.t.Helper()
	data, err := json.MarshalIndent(c.spec, "", "\t")
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// run saves the spec and runs the container in the foreground.
func (c *container) run(flags ...string) result {
	c.t.Helper()
	c.save()
	return c.barco(append(append([]string{"run", "--bundle", c.bundle}, flags...), c.id)...)
}

// create saves the spec and creates the container.
func (c *container) create(flags ...string) result {
	c.t.Helper()
	c.save()
	return c.barco(append(append([]string{"create", "--bundle", c.bundle}, flags...), c.id)...)
}

// runOK runs the container in the foreground and returns its stdout,
// failing the test unless it exits 0.
func (c *container) runOK() string {
	c.t.Helper()
	res := c.run()
	if res.Code != 0 {
		c.t.Fatalf("expected exit 0\n%s", res)
	}
	return res.Stdout
}

// bindMount adds a bind mount of a host directory.
func (c *container) bindMount(src, dst string, options ...string) {
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
		Destination: dst,
		Type:        "bind",
		Source:      src,
		Options:     append([]string{"rbind"}, options...),
	})
}

// outDir bind-mounts a fresh host directory at /out, for containers to leave
// files the test can read while they run.
func (c *container) outDir() string {
	c.t.Helper()
	dir := c.t.TempDir()
	c.bindMount(dir, "/out", "rw")
	return dir
}

// ociState is the output of `barco state`: the OCI state plus runc's
// rootfs, created and owner fields.
type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations"`
}

// state runs `barco state` and parses it, failing the test on error.
func (c *container) state() ociState {
	c.t.Helper()
	s, err := c.tryState()
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// tryState runs `barco state` and parses it.
func (c *container) tryState() (ociState, error) {
	var s ociState
	res := c.barco("state", c.id)
	if res.Code != 0 {
		return s, fmt.Errorf("expected success\n%s", res)
	}
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
		return s, fmt.Errorf("state output is not JSON: %v\n%s", err, res)
	}
	return s, nil
}

// waitStatus polls `barco state` until the container has the given status.
func (c *container) waitStatus(want string) ociState {
	c.t.Helper()
	var s ociState
	err := eventually(10*time.Second, func() error {
		s = c.state()
		if s.Status != want {
			return fmt.Errorf("status %q, want %q", s.Status, want)
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("container %s: %v", c.id, err)
	}
	return s
}

// assertNothingLeft checks that the container left no trace: no state in
// --root, no cgroup, no mount under the bundle and no process naming the
// container or living in its cgroup.
func (c *container) assertNothingLeft() {
	c.t.Helper()
	assertNothingLeft(c.t, c.root, c.id, c.bundle, c.cgroup)
}

func assertNothingLeft(t *testing.T, root, id, bundle, cgroup string) {
	t.Helper()
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			// Hidden entries are the runtime's own, shared by all containers.
			perContainer := e.IsDir() && !strings.HasPrefix(e.Name(), ".")
			if perContainer || (id != "" && strings.Contains(e.Name(), id)) {
				t.Errorf("--root %s still holds %q", root, e.Name())
			}
		}
	}
	// An id with a path separator must not have been used as a path either.
	if id != "" && id != filepath.Base(id) {
		if _, err := os.Lstat(filepath.Join(root, id)); err == nil {
			t.Errorf("%s exists after a failed command", filepath.Join(root, id))
		}
	}
	dir := testCgroupDir(cgroup)
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("cgroup %s left behind", dir)
		if err := removeCgroup(dir); err != nil {
			t.Error(err)
		}
	}
	if mps := mountPointsContaining(bundle); len(mps) > 0 {
		t.Errorf("mounts left under the bundle: %v", mps)
	}
	err := eventually(3*time.Second, func() error {
		var left []string
		for _, p := range procs.Processes() {
			if p.State == "Z" {
				continue
			}
			if strings.Contains(p.Cmdline, bundle) || (len(id) >= 8 && strings.Contains(p.Cmdline, id)) ||
				inCgroup(p.PID, "/"+testCgroupParent+"/"+cgroup) {
				left = append(left, fmt.Sprintf("%d (%s)", p.PID, p.Cmdline))
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("processes left: %s", strings.Join(left, ", "))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// uniqueID derives a container id from the test name (names.ContainerID).
func uniqueID(t *testing.T) string { return names.ContainerID(t, "it-") }

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// waitFile waits until a container has written path and returns its
// content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	var data []byte
	err := eventually(10*time.Second, func() error {
		var err error
		data, err = os.ReadFile(path)
		if err == nil && len(data) == 0 {
			return errors.New("empty")
		}
		return err
	})
	if err != nil {
		t.Fatalf("wait for %s: %v", path, err)
	}
	return string(data)
}

// inCgroup tells whether a process is in the cgroup2 group path or below it.
func inCgroup(pid int, path string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p == path || strings.HasPrefix(p, path+"/")
		}
	}
	return false
}

// assertNoStrayChildren fails the test if a process other than the commands
// the tests run is still a child of the test binary: a container process
// whose runtime exited without cleaning it up.
func assertNoStrayChildren(t *testing.T) {
	t.Helper()
	err := eventually(3*time.Second, func() error {
		var left []string
		for _, p := range env.reaper.Untracked() {
			left = append(left, fmt.Sprintf("%d (%s)", p.PID, p.Cmdline))
		}
		if len(left) > 0 {
			return fmt.Errorf("processes reparented to the tests and still alive: %s", strings.Join(left, ", "))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// assertContains fails the test unless s holds every substring.
func assertContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not contain %q", what, s, sub)
		}
	}
}
