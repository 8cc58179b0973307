package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/console"
)

// startSleeper runs c detached with a long sleep and returns its state.
func startSleeper(t *testing.T, c *container) ociState {
	t.Helper()
	if res := c.run("--detach"); res.Code != 0 {
		t.Fatalf("run --detach\n%s", res)
	}
	return c.waitStatus("running")
}

func TestExecCommandAndExitCode(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, c)

	res := c.mustBarco("exec", c.id, "sh", "-c", "echo hello from exec; echo pid=$$")
	assertContains(t, "exec output", res.Stdout, "hello from exec")
	// The container has its own pid namespace: the exec'd shell is not pid 1
	// but is a member of it (a small pid, not a host pid).
	pidLine := strings.TrimSpace(res.Stdout[strings.Index(res.Stdout, "pid=")+4:])
	if pid, err := strconv.Atoi(pidLine); err != nil || pid <= 1 || pid > 1000 {
		t.Errorf("exec'd shell pid %q is not a pid of the container's namespace", pidLine)
	}
	if res := c.barco("exec", c.id, "sh", "-c", "exit 7"); res.Code != 7 {
		t.Errorf("exit code %d, want 7\n%s", res.Code, res)
	}
	if res := c.barco("exec", c.id, "sh", "-c", "kill -9 $$"); res.Code != 137 {
		t.Errorf("exit code %d, want 137\n%s", res.Code, res)
	}
	// exec's own failures exit 255, as runc's do: a caller tells them
	// from the process's exit status.
	res = c.barco("exec", c.id, "/nonexistent")
	if res.Code != 255 {
		t.Errorf("exec of a missing binary: exit code %d, want 255\n%s", res.Code, res)
	}
	assertContains(t, "stderr", res.Stderr, "no such file or directory")
	for _, args := range [][]string{
		{"exec", c.id + "-none", "true"},
		{"exec", "--detach", c.id, "/nonexistent"},
		{"exec", "--cwd", "relative", c.id, "true"},
	} {
		if res := c.barco(args...); res.Code != 255 {
			t.Errorf("barco %q: exit code %d, want 255\n%s", args, res.Code, res)
		}
	}
}

func TestExecSettings(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, c)

	res := c.mustBarco("exec", "--user", "1000:1000", "--additional-gids", "10", c.id, "id")
	assertContains(t, "id", res.Stdout, "uid=1000", "gid=1000", "10(")
	res = c.mustBarco("exec", "--env", "FOO=bar", "--cwd", "/tmp", c.id, "sh", "-c", "echo $FOO; pwd")
	if got := strings.Fields(res.Stdout); len(got) != 2 || got[0] != "bar" || got[1] != "/tmp" {
		t.Errorf("env/cwd: got %q", res.Stdout)
	}
	res = c.mustBarco("exec", c.id, "sh", "-c", "grep CapEff /proc/self/status")
	if !strings.Contains(res.Stdout, "00000000200004") { // the default spec's three caps
		t.Errorf("exec without --cap: %q", res.Stdout)
	}
	res = c.mustBarco("exec", "--cap", "CAP_SYS_ADMIN", c.id, "sh", "-c", "grep CapEff /proc/self/status")
	if strings.Contains(res.Stdout, "00000000200004") {
		t.Errorf("--cap CAP_SYS_ADMIN did not change the effective set: %q", res.Stdout)
	}
	res = c.barco("exec", "--cap", "CAP_BOGUS", c.id, "true")
	if res.Code == 0 || !strings.Contains(res.Stderr, "CAP_BOGUS") {
		t.Errorf("unknown capability accepted\n%s", res)
	}
}

func TestExecProcessJSON(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, c)
	p := specs.Process{
		Args: []string{"sh", "-c", "echo $GREETING; id -u; pwd"},
		Env:  []string{"PATH=/bin:/sbin", "GREETING=from-process-json"},
		Cwd:  "/etc",
		User: specs.User{UID: 1000, GID: 1000},
	}
	data, _ := json.Marshal(p)
	path := filepath.Join(t.TempDir(), "process.json")
	writeFile(t, path, string(data))
	res := c.mustBarco("exec", "--process", path, c.id)
	if got := strings.Fields(res.Stdout); len(got) != 3 || got[0] != "from-process-json" || got[1] != "1000" || got[2] != "/etc" {
		t.Errorf("exec --process: got %q", res.Stdout)
	}
	p.Args = nil
	data, _ = json.Marshal(p)
	writeFile(t, path, string(data))
	res = c.barco("exec", "--process", path, c.id)
	if res.Code == 0 || !strings.Contains(res.Stderr, "process.args") {
		t.Errorf("process without args accepted\n%s", res)
	}
}

// The exec'd process must see the container's mounts, not the host's.
func TestExecJoinsMountNamespace(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "echo inside > /tmp/only-here; exec sleep 1000")
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	startSleeper(t, c)
	err := eventually(10*time.Second, func() error {
		res := c.barco("exec", c.id, "cat", "/tmp/only-here")
		if strings.TrimSpace(res.Stdout) != "inside" {
			return fmt.Errorf("got %q", res.Stdout)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.bundle, "rootfs", "tmp", "only-here")); err == nil {
		t.Error("the container's tmpfs file is visible in the bundle on the host")
	}
}

func TestExecJoinsUserNamespace(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	c.spec.Linux.Namespaces = append(c.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	c.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	c.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	// The container's root is host uid 100000: it must be able to reach
	// the bundle through the test's private temp directories.
	for dir := c.bundle; dir != "/tmp" && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	startSleeper(t, c)
	res := c.mustBarco("exec", c.id, "cat", "/proc/self/uid_map")
	if f := strings.Fields(res.Stdout); len(f) != 3 || f[0] != "0" || f[1] != "100000" || f[2] != "65536" {
		t.Errorf("uid_map in exec: %q", res.Stdout)
	}
	// Seen from the host, the exec'd process runs as uid 100000.
	res = c.mustBarco("exec", c.id, "sh", "-c", "grep -E '^Uid' /proc/self/status; sleep 0")
	assertContains(t, "status in user namespace", res.Stdout, "Uid:\t0\t0\t0\t0")
	c.mustBarco("exec", "--detach", "--pid-file", filepath.Join(c.bundle, "exec.pid"), c.id, "sleep", "30")
	pid := strings.TrimSpace(waitFile(t, filepath.Join(c.bundle, "exec.pid")))
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	assertContains(t, "host view of the exec'd process", string(status), "Uid:\t100000\t100000\t100000\t100000")
}

// A pod: the second container joins the first one's network, ipc and uts
// namespaces by path.
func TestJoinNamespacesByPath(t *testing.T) {
	r := newRuntime(t)
	sandbox := r.newContainer("sleep", "1000")
	sandbox.spec.Hostname = "podhost"
	st := startSleeper(t, sandbox)

	// Each container has its own --root: the leftover checks of one must
	// not see the other.
	member := newRuntime(t).newContainer("sh", "-c", "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; echo $$")
	member.spec.Hostname = "" // the uts namespace is the sandbox's
	for i, ns := range member.spec.Linux.Namespaces {
		name := map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts"}[ns.Type]
		if name != "" {
			member.spec.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", st.Pid, name)
		}
	}
	out := strings.Fields(member.runOK())
	if len(out) != 4 {
		t.Fatalf("unexpected output %q", out)
	}
	if out[0] != "podhost" {
		t.Errorf("hostname %q, want the sandbox's podhost", out[0])
	}
	for i, name := range []string{"net", "ipc"} {
		want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, name))
		if out[i+1] != want {
			t.Errorf("%s namespace %s, want the sandbox's %s", name, out[i+1], want)
		}
	}
	if out[3] != "1" {
		t.Errorf("member is pid %s in its own new pid namespace, want 1", out[3])
	}

	bad := newRuntime(t).newContainer("true")
	bad.spec.Linux.Namespaces = append(bad.spec.Linux.Namespaces[:0:0], specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/999999999/ns/net"})
	bad.spec.Linux.Namespaces = append(bad.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.MountNamespace})
	bad.spec.Hostname = ""
	res := bad.run()
	if res.Code == 0 {
		t.Fatalf("joining a missing namespace succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "/proc/999999999/ns/net")
}

func TestPreserveFDs(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "cat <&3; ls /proc/self/fd")
	file := filepath.Join(t.TempDir(), "passed")
	writeFile(t, file, "content of fd 3\n")
	c.save()
	script := fmt.Sprintf("exec 3<%s; exec %s --root %s run --preserve-fds 1 --bundle %s %s", file, env.binary, c.root, c.bundle, c.id)
	res := runCmd(t, "sh", "-c", script)
	if res.Code != 0 {
		t.Fatalf("run --preserve-fds\n%s", res)
	}
	assertContains(t, "container output", res.Stdout, "content of fd 3")
	fds := strings.Fields(res.Stdout[strings.Index(res.Stdout, "fd 3")+4:])
	// stdio, the preserved fd 3, and the fd ls uses to read the directory.
	if strings.Join(fds, " ") != "0 1 2 3 4" {
		t.Errorf("fds in the container: %v, want 0 1 2 3 4", fds)
	}
}

func TestKillAllAndForceDelete(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "sleep 1000 & sleep 1001 & wait")
	startSleeper(t, c)
	cg := testCgroupDir(c.cgroup)
	err := eventually(10*time.Second, func() error {
		data, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		if n := len(strings.Fields(string(data))); n != 3 {
			return fmt.Errorf("%d processes in the cgroup, want 3", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.mustBarco("kill", "--all", c.id, "KILL")
	c.waitStatus("stopped")
	data, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
	if len(strings.TrimSpace(string(data))) != 0 {
		t.Errorf("processes left after kill --all: %q", data)
	}
	c.mustBarco("delete", c.id)

	d := newRuntime(t).newContainer("sh", "-c", "sleep 1000 & exec sleep 1001")
	startSleeper(t, d)
	d.mustBarco("delete", "--force", d.id)
	d.assertNothingLeft()
}

func TestExecStoppedContainer(t *testing.T) {
	c := newRuntime(t).newContainer("true")
	if res := c.run("--keep"); res.Code != 0 {
		t.Fatalf("run --keep\n%s", res)
	}
	res := c.barco("exec", c.id, "true")
	if res.Code == 0 || !strings.Contains(res.Stderr, "not running") && !strings.Contains(res.Stderr, "stopped") {
		t.Errorf("exec in a stopped container\n%s", res)
	}
}

// receivePidfd accepts one connection on a fresh socket and returns the
// "Pid:" line of the fdinfo of the fd it receives.
func receivePidfd(t *testing.T) (sock string, got <-chan string) {
	t.Helper()
	sock = filepath.Join(shortTempDir(t), "pidfd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1)
	go func() {
		defer ln.Close()
		conn, err := ln.Accept()
		if err != nil {
			ch <- "accept: " + err.Error()
			return
		}
		defer conn.Close()
		f, err := conn.(*net.UnixConn).File()
		if err != nil {
			ch <- err.Error()
			return
		}
		defer f.Close()
		fd, err := console.RecvFd(f)
		if err != nil {
			ch <- err.Error()
			return
		}
		defer fd.Close()
		info, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd.Fd()))
		for _, line := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(line, "Pid:") {
				ch <- strings.TrimSpace(strings.TrimPrefix(line, "Pid:"))
				return
			}
		}
		ch <- "no Pid in fdinfo: " + string(info)
	}()
	return sock, ch
}

func TestPidfdSocket(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	sock, got := receivePidfd(t)
	if res := c.run("--detach", "--pidfd-socket", sock); res.Code != 0 {
		t.Fatalf("run --pidfd-socket\n%s", res)
	}
	st := c.waitStatus("running")
	select {
	case pid := <-got:
		if pid != strconv.Itoa(st.Pid) {
			t.Errorf("pidfd of pid %s, want the init %d", pid, st.Pid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pidfd received")
	}

	sock, got = receivePidfd(t)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	c.mustBarco("exec", "--detach", "--pid-file", pidFile, "--pidfd-socket", sock, c.id, "sleep", "30")
	select {
	case pid := <-got:
		want := strings.TrimSpace(waitFile(t, pidFile))
		if pid != want {
			t.Errorf("pidfd of pid %s, want the exec'd process %s", pid, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pidfd received for exec")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// cpusAllowed is the Cpus_allowed_list line of a /proc/PID/status.
func cpusAllowed(t *testing.T, status string) string {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in %q", status)
	return ""
}

// process.execCPUAffinity: an exec'd process ends on the final CPUs, from
// config.json or from --process; the container's init is not affected.
func TestExecCPUAffinity(t *testing.T) {
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		t.Fatal(err)
	}
	var cpus []string
	for i := range 1024 {
		if own.IsSet(i) {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	if len(cpus) < 2 {
		t.Skip("needs two CPUs")
	}
	first, last := cpus[0], cpus[len(cpus)-1]
	ownList := cpusAllowed(t, mustRead(t, "/proc/self/status"))

	c := newRuntime(t).newContainer("sleep", "1000")
	c.spec.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: first, Final: last}
	st := startSleeper(t, c)
	if got := cpusAllowed(t, mustRead(t, fmt.Sprintf("/proc/%d/status", st.Pid))); got != ownList {
		t.Errorf("init runs on CPUs %s, want %s (execCPUAffinity is not the init's)", got, ownList)
	}
	res := c.mustBarco("exec", c.id, "cat", "/proc/self/status")
	if got := cpusAllowed(t, res.Stdout); got != last {
		t.Errorf("exec'd process on CPUs %s, want %s (config.json's final)", got, last)
	}

	path := filepath.Join(t.TempDir(), "process.json")
	p := specs.Process{Args: []string{"/bin/cat", "/proc/self/status"}, Cwd: "/", ExecCPUAffinity: &specs.CPUAffinity{Final: first}}
	data, _ := json.Marshal(p)
	writeFile(t, path, string(data))
	if got := cpusAllowed(t, c.mustBarco("exec", "--process", path, c.id).Stdout); got != first {
		t.Errorf("exec --process: CPUs %s, want %s", got, first)
	}
	// A CPU this machine does not have: the exec fails, the container runs on.
	p.ExecCPUAffinity.Final = "1023"
	data, _ = json.Marshal(p)
	writeFile(t, path, string(data))
	res = c.barco("exec", "--process", path, c.id)
	if res.Code != 255 {
		t.Errorf("exec on a missing CPU: exit code %d, want 255\n%s", res.Code, res)
	}
	assertContains(t, "stderr", res.Stderr, "process.execCPUAffinity.final")
	if s := c.state(); s.Status != "running" {
		t.Errorf("container %s after a failed exec", s.Status)
	}
}
