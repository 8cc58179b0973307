package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ctrNamespace is the containerd namespace of the ctr scenarios; the CRI
// scenarios use k8s.io, as kubelet does.
const (
	ctrNamespace = "barco-test"
	criNamespace = "k8s.io"
)

// containerdConfig gives containerd a root, state and sockets of its own,
// and one CRI runtime handler per runtime under test, both through the runc
// shim v2 with BinaryName naming the runtime binary.
//
// disable_cgroup: the CRI plugin gives every pod sandbox 2 cpu shares and
// every container the cpu and memory settings of its spec, and the cpu and
// memory controllers are cgroup v1 on this host: every runtime would refuse
// them. Without it no pod starts, with barco or runc.
//
// restrict_oom_score_adj: the sandbox asks for oom_score_adj -998, and a
// lower score than the caller's needs CAP_SYS_RESOURCE, which this machine's
// root has not got (runc fails too). The option keeps scores at least
// containerd's own.
const containerdConfig = `version = 2
root = "{{dir}}/root"
state = "{{dir}}/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
]

[grpc]
  address = "{{dir}}/containerd.sock"

[ttrpc]
  address = "{{dir}}/containerd.sock.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{{dir}}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{pause}}"
  disable_cgroup = true
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{dir}}/cni/bin"
    conf_dir = "{{dir}}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
{{runtimes}}`

const containerdRuntime = `    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{name}}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{name}}.options]
        BinaryName = "{{binary}}"
        Root = "{{dir}}/runtime-root/{{name}}"
`

// containerdEnv is a containerd daemon started for the suite.
type containerdEnv struct {
	dir     string
	address string
	daemon  *daemon
}

var (
	containerd        containerdEnv
	containerdErr     error
	containerdOnce    sync.Once
	containerdStarted bool
)

// setupContainerd starts containerd on first use, with both images imported
// in both namespaces.
func setupContainerd(t *testing.T) containerdEnv {
	t.Helper()
	requireEnv(t)
	requireTool(t, "containerd", "ctr", "containerd-shim-runc-v2")
	containerdOnce.Do(func() {
		containerdStarted = true
		containerd, containerdErr = startContainerd(t)
	})
	if containerdErr != nil {
		t.Fatalf("start containerd: %v", containerdErr)
	}
	if done, err := containerd.daemon.exited(); done {
		t.Fatalf("containerd has exited (%v):\n%s", err, containerd.daemon.tail(20))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd's log ends with:\n%s", containerd.daemon.tail(40))
		}
	})
	return containerd
}

func startContainerd(t *testing.T) (containerdEnv, error) {
	dir := filepath.Join(env.workdir, "containerd")
	c := containerdEnv{dir: dir, address: filepath.Join(dir, "containerd.sock")}
	for _, d := range []string{"cni/bin", "cni/conf", "opt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return c, err
		}
	}
	// The shims put their sockets under /run/containerd/s, a path no
	// option moves; a tmpfs there, in this private mount namespace, keeps
	// them apart from any containerd of the host.
	if err := os.MkdirAll("/run/containerd", 0o711); err != nil {
		return c, err
	}
	if err := unix.Mount("tmpfs", "/run/containerd", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=711"); err != nil {
		return c, fmt.Errorf("mount a private /run/containerd: %w", err)
	}
	var runtimes strings.Builder
	for _, rt := range env.runtimes {
		runtimes.WriteString(strings.NewReplacer("{{name}}", rt.name, "{{binary}}", rt.binary, "{{dir}}", dir).Replace(containerdRuntime))
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{pause}}", pauseImageRef, "{{runtimes}}", runtimes.String()).Replace(containerdConfig)
	confPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return c, err
	}
	d, err := startDaemon([]string{"containerd", "--config", confPath, "--log-level", "info"}, filepath.Join(dir, "containerd.log"))
	if err != nil {
		return c, err
	}
	c.daemon = d
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.ctr(ctrNamespace, "version").run(t)
		if r.code == 0 {
			break
		}
		if done, err := d.exited(); done {
			return c, fmt.Errorf("containerd exited (%v):\n%s", err, d.tail(20))
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("containerd does not answer: %v\n%s", r, d.tail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	im := testImages(t)
	for _, ns := range []string{ctrNamespace, criNamespace} {
		for _, archive := range []string{im.archive, im.pauseArchive} {
			if r := c.ctr(ns, "images", "import", archive).run(t); r.code != 0 {
				return c, fmt.Errorf("import %s into %s: %v", archive, ns, r)
			}
		}
	}
	return c, nil
}

// ctr is a ctr command against the suite's containerd.
func (c containerdEnv) ctr(namespace string, args ...string) invocation {
	return invocation{argv: append([]string{"ctr", "--address", c.address, "--namespace", namespace}, args...)}
}

// stopDaemons stops containerd if a scenario started it.
func stopDaemons() {
	if !containerdStarted || containerd.daemon == nil {
		return
	}
	containerd.daemon.stop()
}

// liveChildren lists the running children of the test binary that are not
// commands of the tests.
func liveChildren() []int {
	var out []int
	for _, p := range env.reaper.Untracked() {
		out = append(out, p.PID)
	}
	return out
}

// unmountUnder detaches every mount at or below dir, deepest first, so that
// removing dir never reaches into a mounted file system.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if p := f[4]; p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = unix.Unmount(points[i], unix.MNT_DETACH)
	}
}

func TestContainerd(t *testing.T) {
	requireEnv(t)
	scenarios := []struct {
		name string
		fn   func(t *testing.T, c containerdEnv, rt runtimeUnderTest, id string)
	}{
		{"run --rm", ctrRunRm},
		{"exit codes", ctrExitCodes},
		{"run -d, task exec, kill, delete", ctrDetached},
		{"pause/resume", ctrPause},
		{"task metrics", ctrMetrics},
		{"tty", ctrTTY},
		{"task exec -t", ctrExecTTY},
	}
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			eachRuntime(t, "ctr: "+sc.name, func(t *testing.T, rt runtimeUnderTest) {
				c := setupContainerd(t)
				sc.fn(t, c, rt, fmt.Sprintf("s%d-%s", i, rt.name))
			})
		})
	}
}

// ctrRun is `ctr run` with rt through the runc shim v2.
func (c containerdEnv) ctrRun(rt runtimeUnderTest, flags []string, id string, args ...string) invocation {
	// ctr asks for 1024 cpu shares unless told 0, and the cpu controller
	// is cgroup v1 on this host: every runtime would refuse the limit.
	argv := append([]string{"run", "--cpu-shares", "0", "--runc-binary", rt.binary, "--runc-root", filepath.Join(c.dir, "ctr-root", rt.name)}, flags...)
	argv = append(append(argv, imageRef, id), args...)
	return c.ctr(ctrNamespace, argv...)
}

// removeTask kills and deletes the container id, whatever state it is in.
func (c containerdEnv) removeTask(t *testing.T, id string) {
	c.ctr(ctrNamespace, "task", "kill", "--signal", "SIGKILL", id).run(t)
	c.ctr(ctrNamespace, "task", "delete", "--force", id).run(t)
	c.ctr(ctrNamespace, "container", "delete", id).run(t)
}

// taskStatus is the task's status column of `ctr task ls`.
func (c containerdEnv) taskStatus(t *testing.T, id string) string {
	t.Helper()
	r := mustSucceed(t, c.ctr(ctrNamespace, "task", "ls").run(t))
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

func (c containerdEnv) waitTaskStatus(t *testing.T, id, want string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if got := c.taskStatus(t, id); got != want {
			return fmt.Errorf("task %s is %q, want %q", id, got, want)
		}
		return nil
	})
}

func ctrRunRm(t *testing.T, c containerdEnv, rt runtimeUnderTest, id string) {
	t.Cleanup(func() { c.removeTask(t, id) })
	r := mustSucceed(t, c.ctrRun(rt, []string{"--rm"}, id, "sh", "-c", "echo hello from $(hostname); id -u").run(t))
	if r.stdout != "hello from "+id+"\n0\n" && !strings.HasPrefix(r.stdout, "hello from ") {
		t.Fatalf("stdout %q\n%v", r.stdout, r)
	}
	if r := c.ctr(ctrNamespace, "container", "info", id).run(t); r.code == 0 {
		t.Fatalf("container left after run --rm: %v", r)
	}
}

func ctrExitCodes(t *testing.T, c containerdEnv, rt runtimeUnderTest, id string) {
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3},
		{"exit 0", []string{"true"}, 0},
	}
	for i, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			cid := fmt.Sprintf("%s-%d", id, i)
			t.Cleanup(func() { c.removeTask(t, cid) })
			mustExit(t, c.ctrRun(rt, []string{"--rm"}, cid, cs.args...).run(t), cs.code)
		})
	}
	// PID 1 of a container cannot be killed from inside; from outside
	// SIGKILL ends it, and the task's exit status says so.
	t.Run("killed by SIGKILL", func(t *testing.T) {
		cid := id + "-killed"
		t.Cleanup(func() { c.removeTask(t, cid) })
		mustSucceed(t, c.ctrRun(rt, []string{"-d"}, cid, "sleep", "1000").run(t))
		c.waitTaskStatus(t, cid, "RUNNING")
		mustSucceed(t, c.ctr(ctrNamespace, "task", "kill", "--signal", "SIGKILL", cid).run(t))
		c.waitTaskStatus(t, cid, "STOPPED")
		// ctr task delete warns of a non-zero exit status.
		r := mustSucceed(t, c.ctr(ctrNamespace, "task", "delete", cid).run(t))
		if !strings.Contains(r.stderr, "exit code 137") {
			t.Fatalf("want exit code 137: %v", r)
		}
	})
	// A command that does not exist fails the start, and ctr says why.
	cid := id + "-missing"
	t.Cleanup(func() { c.removeTask(t, cid) })
	r := c.ctrRun(rt, []string{"--rm"}, cid, "/no/such/command").run(t)
	if r.code == 0 || !strings.Contains(r.stderr, "no such file or directory") {
		t.Fatalf("run of a missing command: %v", r)
	}
}

func ctrDetached(t *testing.T, c containerdEnv, rt runtimeUnderTest, id string) {
	t.Cleanup(func() { c.removeTask(t, id) })
	mustSucceed(t, c.ctrRun(rt, []string{"-d"}, id, "sh", "-c", loopScript).run(t))
	c.waitTaskStatus(t, id, "RUNNING")
	r := mustSucceed(t, c.ctr(ctrNamespace, "task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo exec; cat /proc/1/cmdline").run(t))
	mustContain(t, r, "exec\n")
	mustContain(t, r, "while")
	mustExit(t, c.ctr(ctrNamespace, "task", "exec", "--exec-id", "e2", id, "sh", "-c", "exit 5").run(t), 5)
	mustSucceed(t, c.ctr(ctrNamespace, "task", "exec", "--exec-id", "e3", "--user", "1000", id, "sh", "-c", "test $(id -u) = 1000").run(t))
	r = mustSucceed(t, c.ctr(ctrNamespace, "task", "ps", id).run(t))
	if n := len(strings.Split(strings.TrimSpace(r.stdout), "\n")); n < 2 {
		t.Fatalf("task ps lists no process: %v", r)
	}
	mustSucceed(t, c.ctr(ctrNamespace, "task", "kill", "--signal", "SIGTERM", id).run(t))
	c.waitTaskStatus(t, id, "STOPPED")
	r = mustSucceed(t, c.ctr(ctrNamespace, "task", "delete", id).run(t))
	mustSucceed(t, c.ctr(ctrNamespace, "container", "delete", id).run(t))
	if got := c.taskStatus(t, id); got != "" {
		t.Fatalf("task still listed as %q after delete", got)
	}
}

func ctrPause(t *testing.T, c containerdEnv, rt runtimeUnderTest, id string) {
	t.Cleanup(func() { c.removeTask(t, id) })
	mustSucceed(t, c.ctrRun(rt, []string{"-d"}, id, "sleep", "1000").run(t))
	c.waitTaskStatus(t, id, "RUNNING")
	mustSucceed(t, c.ctr(ctrNamespace, "task", "pause", id).run(t))
	c.waitTaskStatus(t, id, "PAUSED")
	mustSucceed(t, c.ctr(ctrNamespace, "task", "resume", id).run(t))
	c.waitTaskStatus(t, id, "RUNNING")
	mustSucceed(t, c.ctr(ctrNamespace, "task", "exec", "--exec-id", "after-resume", id, "true").run(t))
}

func ctrMetrics(t *testing.T, c containerdEnv, rt runtimeUnderTest, id string) {
	t.Cleanup(func() { c.removeTask(t, id) })
	mustSucceed(t, c.ctrRun(rt, []string{"-d"}, id, "sleep", "1000").run(t))
	c.waitTaskStatus(t, id, "RUNNING")
	r := mustSucceed(t, c.ctr(ctrNamespace, "task", "metrics", "--format", "json", id).run(t))
	// The shim reads the container's cgroup v2 files; pids.current counts
	// the one sleep.
	if !strings.Contains(r.stdout, `"pids"`) && !strings.Contains(r.stdout, `"Pids"`) && !strings.Contains(r.stdout, "cpu") {
		t.Fatalf("metrics hold no cgroup statistics: %v", r)
	}
}

// ttyScript shows the terminal's name and size. ctr sets the size from its
// own terminal only after the start, so the script waits for it a little
// (busybox's stty prints nothing, with exit status 0, while it is 0x0).
const ttyScript = `tty; for i in $(seq 50); do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.1; done; echo "size $s"; test -t 0 && echo stdin-is-a-tty`

func ctrTTY(t *testing.T, c containerdEnv, rt runtimeUnderTest, id string) {
	t.Cleanup(func() { c.removeTask(t, id) })
	term := newPTY(t)
	inv := c.ctrRun(rt, []string{"--rm", "-t"}, id, "sh", "-c", ttyScript+"; exit 4")
	inv.stdio = term.slave
	r := inv.run(t)
	term.slave.Close()
	<-term.done
	if r.code != 4 {
		t.Fatalf("want exit code 4: %v\n%v", r, term)
	}
	out := term.output()
	for _, want := range []string{"/dev/pts/", "size 24 80", "stdin-is-a-tty"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q on the terminal\n%v", want, term)
		}
	}
}

func ctrExecTTY(t *testing.T, c containerdEnv, rt runtimeUnderTest, id string) {
	t.Cleanup(func() { c.removeTask(t, id) })
	mustSucceed(t, c.ctrRun(rt, []string{"-d"}, id, "sleep", "1000").run(t))
	c.waitTaskStatus(t, id, "RUNNING")
	term := newPTY(t)
	inv := c.ctr(ctrNamespace, "task", "exec", "-t", "--exec-id", "tty", id, "sh", "-c", ttyScript+"; exit 5")
	inv.stdio = term.slave
	r := inv.run(t)
	term.slave.Close()
	<-term.done
	if r.code != 5 {
		t.Fatalf("want exit code 5: %v\n%v", r, term)
	}
	for _, want := range []string{"/dev/pts/", "size 24 80", "stdin-is-a-tty"} {
		if !strings.Contains(term.output(), want) {
			t.Fatalf("no %q on the exec's terminal\n%v", want, term)
		}
	}
}
