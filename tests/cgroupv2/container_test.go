package cgroupv2

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/tests/internal/names"
)

// container is one bundle (a spec of the suite's own plus a copy of the
// busybox rootfs), the id it runs under and the --root state directory it
// alone uses.
type container struct {
	t      *testing.T
	id     string
	root   string
	bundle string
	spec   *specs.Spec
}

// newContainer makes a bundle that runs args. Its cgroupsPath is
// /barco-v2test-<pid>/<id>. On cleanup the container is force-deleted, its
// cgroup must be gone, and the parent is removed if no other container uses
// it.
func newContainer(t *testing.T, args ...string) *container {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	dir := t.TempDir()
	c := &container{
		t:      t,
		id:     uniqueID(t),
		root:   filepath.Join(dir, "state"),
		bundle: filepath.Join(dir, "bundle"),
	}
	c.spec = baseSpec(args)
	c.spec.Linux.CgroupsPath = "/" + env.parent + "/" + c.id
	if err := copyTree(env.rootfs, filepath.Join(c.bundle, "rootfs")); err != nil {
		t.Fatalf("copy rootfs: %v", err)
	}
	t.Cleanup(func() {
		c.runtime("delete", "--force", c.id)
		if _, err := os.Stat(c.expectedCgroup()); err == nil {
			t.Errorf("cgroup %s left behind after delete --force", c.expectedCgroup())
			if err := removeCgroup(c.expectedCgroup()); err != nil {
				t.Error(err)
			}
		}
		// Runtimes enable controllers in the parent's subtree_control as
		// their containers need them; removing the parent once it is empty
		// keeps one test's controllers from leaking into the next one.
		_ = os.Remove(filepath.Dir(c.expectedCgroup()))
	})
	return c
}

// baseSpec is a small runc-like config: no network namespace and no masked
// paths, which cost time and are not what this suite checks. The devices
// cgroup denies everything, as `runc spec` writes it; runtimes add the
// default devices themselves.
func baseSpec(args []string) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		// crun 1.8 refuses any ociVersion but 1.0.x; runtimes read the newer
		// resource fields (burst, idle) whatever the version says.
		Version: "1.0.2",
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "cgroupv2",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
		},
	}
}

// uniqueID derives a container id from the test name (names.ContainerID).
func uniqueID(t *testing.T) string { return names.ContainerID(t, "v2-") }

// runtime runs the runtime under test with this container's --root.
func (c *container) runtime(args ...string) result {
	c.t.Helper()
	return runCmd(c.t, "", env.runtime, append([]string{"--root", c.root}, args...)...)
}

// runtimeStdin is runtime with input on stdin.
func (c *container) runtimeStdin(stdin string, args ...string) result {
	c.t.Helper()
	return runCmd(c.t, stdin, env.runtime, append([]string{"--root", c.root}, args...)...)
}

// must runs the runtime and fails the test unless it exits 0.
func (c *container) must(args ...string) result {
	c.t.Helper()
	res := c.runtime(args...)
	if res.Code != 0 {
		c.t.Fatalf("expected success\n%s", res)
	}
	return res
}

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

// create saves the spec and creates the container, failing the test if the
// runtime refuses.
func (c *container) create() {
	c.t.Helper()
	c.save()
	c.must("create", "--bundle", c.bundle, c.id)
}

// run saves the spec and runs the container in the foreground.
func (c *container) run() result {
	c.t.Helper()
	c.save()
	return c.runtime("run", "--bundle", c.bundle, c.id)
}

// ociState is the part of `state` output the suite looks at.
type ociState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
}

func (c *container) state() ociState {
	c.t.Helper()
	res := c.must("state", c.id)
	var s ociState
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
		c.t.Fatalf("state output is not JSON: %v\n%s", err, res)
	}
	return s
}

// waitStatus polls `state` until the container has the status.
func (c *container) waitStatus(want string) {
	c.t.Helper()
	var got string
	err := eventually(20*time.Second, func() error {
		got = c.state().Status
		if got != want {
			return fmt.Errorf("status %q, want %q", got, want)
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("container %s: %v", c.id, err)
	}
}

// expectedCgroup is where cgroupsPath puts the container's cgroup.
func (c *container) expectedCgroup() string {
	return filepath.Join(env.cgroup2, env.parent, c.id)
}

// cgroupDir finds the container's cgroup the way an outside observer would:
// from /proc/<pid>/cgroup of its init and the cgroup2 mount point. It must
// be the one cgroupsPath names.
func (c *container) cgroupDir() string {
	c.t.Helper()
	pid := c.state().Pid
	if pid <= 0 {
		c.t.Fatalf("state of %s has no pid", c.id)
	}
	dir, err := cgroupOf(pid)
	if err != nil {
		c.t.Fatal(err)
	}
	if dir != c.expectedCgroup() {
		c.t.Fatalf("init %d is in cgroup %s, but cgroupsPath names %s", pid, dir, c.expectedCgroup())
	}
	return dir
}

// cgroupOf is the host path of the cgroup v2 group of a process.
func cgroupOf(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(env.cgroup2, p), nil
		}
	}
	return "", fmt.Errorf("process %d has no cgroup v2 entry in /proc/%d/cgroup", pid, pid)
}

// readCgroupFile reads one interface file, trimmed.
func readCgroupFile(t *testing.T, dir, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return strings.TrimSpace(string(data))
}

// expectFile fails the test unless an interface file holds want.
func expectFile(t *testing.T, dir, file, want string) {
	t.Helper()
	if got := readCgroupFile(t, dir, file); got != want {
		t.Errorf("%s = %q, want %q", file, got, want)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// copyTree copies a directory tree with modes, owners and symlinks. Done in
// process because forking cp costs seconds under an emulated CPU.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		uid, gid := owner(info)
		switch {
		case info.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			if err := os.Chmod(target, info.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetuid|fs.ModeSetgid)); err != nil {
				return err
			}
			return os.Lchown(target, uid, gid)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			return os.Lchown(target, uid, gid)
		case info.Mode().IsRegular():
			if err := copyFile(path, target, info.Mode().Perm()); err != nil {
				return err
			}
			return os.Lchown(target, uid, gid)
		default:
			return fmt.Errorf("%s: unsupported file type %v", path, info.Mode().Type())
		}
	})
}

func copyFile(src, dst string, perm fs.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	// The umask may have dropped bits of perm.
	return out.Chmod(perm)
}

func owner(info fs.FileInfo) (int, int) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}
