package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// podmanEnv is podman's private configuration: its own storage and
// containers.conf, with barco and runc as runtimes that take --log-format
// json (runtime_supports_json), so podman shows their error messages.
type podmanEnv struct {
	dir     string
	env     []string
	baseArg []string
}

var (
	podmanSetup     podmanEnv
	podmanSetupErr  error
	podmanSetupOnce sync.Once
)

// podmanContainersConf leaves out what the host cannot give or what is not
// the runtime's business: no network (no CNI or netavark setup on the host),
// no pids limit (the pids controller is cgroup v1 here), and rlimits that
// fit under the host's hard limits (podman asks for 1048576 open files,
// which needs CAP_SYS_RESOURCE, and this sandbox has not got it).
const podmanContainersConf = `[containers]
pids_limit = 0
default_ulimits = [%q, %q]
netns = "none"
log_driver = "k8s-file"
cgroups = "enabled"
init_path = %q
seccomp_profile = "/usr/share/containers/seccomp.json"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = %q
runtime = "barco"
runtime_supports_json = ["barco", "runc"]

[engine.runtimes]
barco = [%q]
runc = [%q]

[network]
network_config_dir = %q
`

const podmanStorageConf = `[storage]
driver = "overlay"
graphroot = %q
runroot = %q
`

func setupPodman(t *testing.T) podmanEnv {
	t.Helper()
	requireEnv(t)
	requireTool(t, "podman", "conmon")
	podmanSetupOnce.Do(func() { podmanSetup, podmanSetupErr = newPodmanEnv(t) })
	if podmanSetupErr != nil {
		t.Fatalf("set up podman: %v", podmanSetupErr)
	}
	return podmanSetup
}

func newPodmanEnv(t *testing.T) (podmanEnv, error) {
	dir := filepath.Join(env.workdir, "podman")
	p := podmanEnv{dir: dir}
	for _, d := range []string{"root", "runroot", "tmp", "networks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return p, err
		}
	}
	var nofile, nproc unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		return p, err
	}
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &nproc); err != nil {
		return p, err
	}
	procs := min(nproc.Max, 4096)
	conf := fmt.Sprintf(podmanContainersConf,
		fmt.Sprintf("nofile=%d:%d", min(nofile.Max, 1024), nofile.Max),
		fmt.Sprintf("nproc=%d:%d", procs, procs),
		catatonitPath, filepath.Join(dir, "tmp"),
		env.runtimes[0].binary, env.runtimes[1].binary,
		filepath.Join(dir, "networks"))
	storage := fmt.Sprintf(podmanStorageConf, filepath.Join(dir, "root"), filepath.Join(dir, "runroot"))
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o644); err != nil {
		return p, err
	}
	if err := os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(storage), 0o644); err != nil {
		return p, err
	}
	p.env = []string{
		"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(dir, "registries.conf"),
	}
	if err := os.WriteFile(filepath.Join(dir, "registries.conf"), nil, 0o644); err != nil {
		return p, err
	}
	p.baseArg = []string{"podman", "--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(dir, "tmp")}

	im := testImages(t)
	r := p.invocation(env.runtimes[0], "import", "--change", `CMD ["/bin/sh"]`, im.layer, imageRef).run(t)
	if r.code != 0 {
		return p, fmt.Errorf("import the busybox image: %v", r)
	}
	return p, nil
}

func (p podmanEnv) invocation(rt runtimeUnderTest, args ...string) invocation {
	argv := append(append(append([]string{}, p.baseArg...), "--runtime", rt.binary), args...)
	return invocation{argv: argv, env: p.env}
}

// podman runs one podman command with rt as the OCI runtime.
func (p podmanEnv) run(t *testing.T, rt runtimeUnderTest, args ...string) result {
	t.Helper()
	return p.invocation(rt, args...).run(t)
}

// detached starts a long-running container and removes it when the test
// ends.
func (p podmanEnv) detached(t *testing.T, rt runtimeUnderTest, name string, args ...string) {
	t.Helper()
	t.Cleanup(func() { p.run(t, rt, "rm", "-f", "-t", "0", name) })
	mustSucceed(t, p.run(t, rt, append([]string{"run", "-d", "--name", name}, args...)...))
}

// status is the container's state as podman reports it.
func (p podmanEnv) status(t *testing.T, rt runtimeUnderTest, name string) string {
	t.Helper()
	r := mustSucceed(t, p.run(t, rt, "inspect", "--format", "{{.State.Status}}", name))
	return strings.TrimSpace(r.stdout)
}

func (p podmanEnv) waitStatus(t *testing.T, rt runtimeUnderTest, name, want string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if got := p.status(t, rt, name); got != want {
			return fmt.Errorf("container %s is %q, want %q", name, got, want)
		}
		return nil
	})
}

// loopScript runs until SIGTERM, which it answers by exiting 0.
const loopScript = `trap 'echo stopping; exit 0' TERM; echo started; while :; do sleep 0.1; done`

func TestPodman(t *testing.T) {
	requireEnv(t)
	scenarios := []struct {
		name string
		fn   func(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string)
	}{
		{"run --rm with output", podmanRunRm},
		{"exit codes", podmanExitCodes},
		{"run -d, exec, logs, stop, rm", podmanDetached},
		{"kill with a signal", podmanKill},
		{"pause/unpause", podmanPause},
		{"top", podmanTop},
		{"-t tty", podmanTTY},
		{"-i stdin", podmanStdin},
		{"--read-only", podmanReadOnly},
		{"--cap-drop ALL", podmanCapDrop},
		{"--user", podmanUser},
		{"--uidmap", podmanUIDMap},
		{"--network none", podmanNetworkNone},
		{"--security-opt seccomp", podmanSeccomp},
		{"env, workdir, hostname", podmanEnvWorkdirHostname},
		{"--init", podmanInit},
		{"rm -f running", podmanRmForce},
		{"pod sharing namespaces", podmanPod},
		{"exec -t and exec -i", podmanExecTTYStdin},
		{"restart", podmanRestart},
		{"volumes and tmpfs", podmanVolumes},
		{"--privileged", podmanPrivileged},
		{"host namespaces, cgroupns, --device", podmanNamespacesDevices},
		{"rm -f paused", podmanRmPaused},
		{"--memory, --pids-limit", podmanLimits},
	}
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			eachRuntime(t, "podman: "+sc.name, func(t *testing.T, rt runtimeUnderTest) {
				p := setupPodman(t)
				sc.fn(t, p, rt, fmt.Sprintf("s%d-%s", i, rt.name))
			})
		})
	}
}

func podmanRunRm(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--name", name, imageRef, "echo", "hello from", rt.name))
	if r.stdout != "hello from "+rt.name+"\n" {
		t.Fatalf("stdout %q\n%v", r.stdout, r)
	}
	if r := p.run(t, rt, "container", "exists", name); r.code != 1 {
		t.Fatalf("container left after run --rm: %v", r)
	}
}

func podmanExitCodes(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"exit 42", []string{"sh", "-c", "exit 42"}, 42},
		// podman maps the runtime's error text to 127 and 126, as a shell does.
		{"command not found", []string{"/no/such/command"}, 127},
		{"not executable", []string{"/etc/passwd"}, 126},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustExit(t, p.run(t, rt, append([]string{"run", "--rm", imageRef}, c.args...)...), c.code)
		})
	}
	// PID 1 of a container cannot be killed from inside; from outside
	// SIGKILL ends it with 128+9.
	t.Run("killed by SIGKILL", func(t *testing.T) {
		p.detached(t, rt, name, imageRef, "sleep", "1000")
		mustSucceed(t, p.run(t, rt, "kill", "--signal", "KILL", name))
		r := mustSucceed(t, p.run(t, rt, "wait", name))
		if strings.TrimSpace(r.stdout) != "137" {
			t.Fatalf("exit code after SIGKILL: %v", r)
		}
	})
}

func podmanDetached(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	p.detached(t, rt, name, imageRef, "sh", "-c", loopScript)
	r := mustSucceed(t, p.run(t, rt, "exec", name, "sh", "-c", "echo exec in $(hostname)"))
	mustContain(t, r, "exec in ")
	mustExit(t, p.run(t, rt, "exec", name, "sh", "-c", "exit 3"), 3)
	r = mustSucceed(t, p.run(t, rt, "exec", "--user", "1000", "--workdir", "/tmp", "-e", "X=y", name, "sh", "-c", `echo "$(id -u) $(pwd) $X"`))
	if r.stdout != "1000 /tmp y\n" {
		t.Fatalf("exec with user, workdir and env: %v", r)
	}
	eventually(t, 10*time.Second, func() error {
		r := p.run(t, rt, "logs", name)
		if !strings.Contains(r.stdout, "started") {
			return fmt.Errorf("logs lack the container's output: %v", r)
		}
		return nil
	})
	mustSucceed(t, p.run(t, rt, "stop", "-t", "10", name))
	r = mustSucceed(t, p.run(t, rt, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name))
	if got := strings.TrimSpace(r.stdout); got != "exited 0" {
		t.Fatalf("after stop the container is %q, want \"exited 0\" (SIGTERM ends it cleanly)", got)
	}
	mustContain(t, p.run(t, rt, "logs", name), "stopping")
	mustSucceed(t, p.run(t, rt, "rm", name))
	if r := p.run(t, rt, "container", "exists", name); r.code != 1 {
		t.Fatalf("container left after rm: %v", r)
	}
}

func podmanKill(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	p.detached(t, rt, name, imageRef, "sh", "-c",
		`trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.1; done`)
	// The trap exists once the script has printed "ready".
	eventually(t, 10*time.Second, func() error {
		if r := p.run(t, rt, "logs", name); !strings.Contains(r.stdout, "ready") {
			return fmt.Errorf("not ready: %v", r)
		}
		return nil
	})
	mustSucceed(t, p.run(t, rt, "kill", "--signal", "USR1", name))
	r := mustSucceed(t, p.run(t, rt, "wait", name))
	if strings.TrimSpace(r.stdout) != "7" {
		t.Fatalf("exit code after SIGUSR1: %v", r)
	}
	mustContain(t, p.run(t, rt, "logs", name), "got USR1")
}

func podmanPause(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	p.detached(t, rt, name, imageRef, "sh", "-c", `while :; do date +%s%N > /tmp/tick; sleep 0.05; done`)
	mustSucceed(t, p.run(t, rt, "pause", name))
	p.waitStatus(t, rt, name, "paused")
	pid := strings.TrimSpace(mustSucceed(t, p.run(t, rt, "inspect", "--format", "{{.State.Pid}}", name)).stdout)
	tick := "/proc/" + pid + "/root/tmp/tick"
	before, err := os.ReadFile(tick)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if after, _ := os.ReadFile(tick); string(after) != string(before) {
		t.Fatalf("a paused container still runs: %q then %q", before, after)
	}
	mustSucceed(t, p.run(t, rt, "unpause", name))
	p.waitStatus(t, rt, name, "running")
	eventually(t, 5*time.Second, func() error {
		if after, _ := os.ReadFile(tick); string(after) == string(before) {
			return fmt.Errorf("the container does not run after unpause")
		}
		return nil
	})
}

func podmanTop(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	p.detached(t, rt, name, imageRef, "sleep", "1000")
	r := mustSucceed(t, p.run(t, rt, "top", name, "pid", "user", "args"))
	mustContain(t, r, "sleep 1000")
	if !strings.Contains(r.stdout, "root") {
		t.Fatalf("top shows no user: %v", r)
	}
}

func podmanTTY(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	term := newPTY(t)
	inv := p.invocation(rt, "run", "--rm", "-t", "--name", name, imageRef, "sh", "-c", ttyScript)
	inv.stdio = term.slave
	r := inv.run(t)
	term.slave.Close()
	<-term.done
	if r.code != 0 {
		t.Fatalf("%v\n%v", r, term)
	}
	out := term.output()
	for _, want := range []string{"/dev/pts/0", "size 24 80", "stdin-is-a-tty"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q on the terminal\n%v", want, term)
		}
	}
}

func podmanStdin(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	inv := p.invocation(rt, "run", "--rm", "-i", "--name", name, imageRef, "sh", "-c", "tr a-z A-Z; echo eof")
	inv.stdin = strings.NewReader("from stdin\nsecond line\n")
	r := mustSucceed(t, inv.run(t))
	if r.stdout != "FROM STDIN\nSECOND LINE\neof\n" {
		t.Fatalf("stdout %q\n%v", r.stdout, r)
	}
}

func podmanReadOnly(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	r := p.run(t, rt, "run", "--rm", "--read-only", imageRef, "touch", "/etc/new")
	if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Fatalf("wrote to a read-only rootfs: %v", r)
	}
	// podman still mounts a writable tmpfs on /tmp, /run and /var/tmp.
	r = mustSucceed(t, p.run(t, rt, "run", "--rm", "--read-only", imageRef, "sh", "-c", "touch /tmp/x /var/tmp/x && grep ' / ' /proc/mounts"))
	if !strings.Contains(r.stdout, " ro,") && !strings.Contains(r.stdout, " ro ") {
		t.Fatalf("/ is not mounted read-only: %v", r)
	}
}

func podmanCapDrop(t *testing.T, p podmanEnv, rt runtimeUnderTest, _ string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--cap-drop", "ALL", imageRef, "grep", "^Cap", "/proc/self/status"))
	for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if !strings.Contains(r.stdout, set+":\t0000000000000000") {
			t.Fatalf("%s is not empty: %v", set, r)
		}
	}
	r = p.run(t, rt, "run", "--rm", "--cap-drop", "ALL", imageRef, "chown", "1000", "/tmp")
	if r.code == 0 {
		t.Fatalf("chown worked without CAP_CHOWN: %v", r)
	}
	r = mustSucceed(t, p.run(t, rt, "run", "--rm", "--cap-drop", "ALL", "--cap-add", "CHOWN", imageRef, "grep", "^CapEff", "/proc/self/status"))
	mustContain(t, r, "CapEff:\t0000000000000001")
}

func podmanUser(t *testing.T, p podmanEnv, rt runtimeUnderTest, _ string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--user", "1000:1000", imageRef, "id"))
	mustContain(t, r, "uid=1000(test) gid=1000(test)")
	r = mustSucceed(t, p.run(t, rt, "run", "--rm", "--user", "test", imageRef, "id"))
	mustContain(t, r, "uid=1000(test) gid=1000(test) groups=")
	mustContain(t, r, "10(wheel)")
	r = mustSucceed(t, p.run(t, rt, "run", "--rm", "--user", "4321:4321", "--group-add", "77", imageRef, "sh", "-c", "id -u; id -g; id -G; grep CapEff /proc/self/status"))
	if !strings.HasPrefix(r.stdout, "4321\n4321\n4321 77\n") {
		t.Fatalf("user 4321 with group 77: %v", r)
	}
	// A non-root user has no effective capabilities.
	mustContain(t, r, "CapEff:\t0000000000000000")
}

func podmanUIDMap(t *testing.T, p podmanEnv, rt runtimeUnderTest, _ string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536", imageRef,
		"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u:%g /bin/busybox /home/test; touch /root/x && echo write-ok"))
	fields := strings.Fields(r.stdout)
	want := []string{"0", "200000", "65536", "0", "200000", "65536", "0", "0:0", "1000:1000", "write-ok"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Fatalf("got %q, want %q\n%v", fields, want, r)
	}
}

func podmanNetworkNone(t *testing.T, p podmanEnv, rt runtimeUnderTest, _ string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--network", "none", imageRef, "sh", "-c", "ls /sys/class/net; readlink /proc/self/ns/net"))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || lines[0] != "lo" {
		t.Fatalf("want only lo: %v", r)
	}
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if lines[1] == host {
		t.Fatalf("the container is in the host's network namespace %s", host)
	}
}

func podmanSeccomp(t *testing.T, p podmanEnv, rt runtimeUnderTest, _ string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--security-opt", "seccomp=/usr/share/containers/seccomp.json", imageRef, "grep", "^Seccomp", "/proc/self/status"))
	mustContain(t, r, "Seccomp:\t2")
	// A profile of our own shows that the filter is the one podman was given.
	profile := filepath.Join(t.TempDir(), "no-mkdir.json")
	if err := os.WriteFile(profile, []byte(noMkdirProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	r = p.run(t, rt, "run", "--rm", "--security-opt", "seccomp="+profile, imageRef, "mkdir", "/tmp/d")
	if r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Fatalf("mkdir worked under a profile that refuses it: %v", r)
	}
	r = mustSucceed(t, p.run(t, rt, "run", "--rm", "--security-opt", "seccomp=unconfined", imageRef, "grep", "^Seccomp", "/proc/self/status"))
	mustContain(t, r, "Seccomp:\t0")
}

// noMkdirProfile allows every syscall but mkdir and mkdirat, which fail
// with EPERM.
const noMkdirProfile = `{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`

func podmanEnvWorkdirHostname(t *testing.T, p podmanEnv, rt runtimeUnderTest, _ string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "-e", "FOO=bar baz", "-w", "/home/test", "--hostname", "box-"+rt.name, imageRef,
		"sh", "-c", `echo "$FOO|$(pwd)|$(hostname)|$HOME|$PATH"`))
	want := "bar baz|/home/test|box-" + rt.name + "|/root|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	if r.stdout != want {
		t.Fatalf("got %q, want %q\n%v", r.stdout, want, r)
	}
}

func podmanInit(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--init", imageRef, "sh", "-c", `tr '\0' ' ' < /proc/1/cmdline; echo; echo $$`))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "init") || lines[1] == "1" {
		t.Fatalf("want an init as PID 1 and the command under it: %v", r)
	}
	// The init forwards SIGTERM and reaps, so stop is quick.
	p.detached(t, rt, name, "--init", imageRef, "sleep", "1000")
	start := time.Now()
	mustSucceed(t, p.run(t, rt, "stop", "-t", "20", name))
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("stop took %s: the init did not pass SIGTERM on", d)
	}
}

func podmanRmForce(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	p.detached(t, rt, name, imageRef, "sleep", "1000")
	pid, err := strconv.Atoi(strings.TrimSpace(mustSucceed(t, p.run(t, rt, "inspect", "--format", "{{.State.Pid}}", name)).stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("container pid: %v", err)
	}
	mustSucceed(t, p.run(t, rt, "rm", "-f", "-t", "0", name))
	if r := p.run(t, rt, "container", "exists", name); r.code != 1 {
		t.Fatalf("container left after rm -f: %v", r)
	}
	eventually(t, 5*time.Second, func() error {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			return fmt.Errorf("process %d still runs after rm -f", pid)
		}
		return nil
	})
}

func podmanPod(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	pod := name + "-pod"
	t.Cleanup(func() { p.run(t, rt, "pod", "rm", "-f", "-t", "0", pod) })
	// --share-parent=false: podman 4.3 with cgroupfs on cgroup v2 gives
	// the pod's own cgroup a device filter that allows no device at all,
	// so that no runtime can start a container below it (runc fails with
	// "open /dev/null: operation not permitted" as barco does).
	mustSucceed(t, p.run(t, rt, "pod", "create", "--name", pod, "--share", "ipc,net,uts,pid", "--share-parent=false", "--hostname", "pod-"+rt.name))
	p.detached(t, rt, name+"-a", "--pod", pod, imageRef, "sleep", "1000")
	script := `for ns in ipc net uts pid; do readlink /proc/self/ns/$ns; done; hostname; ps -o args`
	first := mustSucceed(t, p.run(t, rt, "exec", name+"-a", "sh", "-c", script))
	second := mustSucceed(t, p.run(t, rt, "run", "--rm", "--pod", pod, imageRef, "sh", "-c", script))
	a, b := strings.Split(first.stdout, "\n"), strings.Split(second.stdout, "\n")
	if len(a) < 5 || len(b) < 5 || strings.Join(a[:5], " ") != strings.Join(b[:5], " ") {
		t.Fatalf("the pod's containers do not share ipc, net, uts and pid:\n%s\n%s", first.stdout, second.stdout)
	}
	if a[4] != "pod-"+rt.name {
		t.Fatalf("hostname %q, want the pod's", a[4])
	}
	// With a shared pid namespace each sees the other's processes and the
	// pod's infra container (catatonit) as PID 1.
	mustContain(t, second, "sleep 1000")
	mustContain(t, second, "catatonit")
	mustSucceed(t, p.run(t, rt, "pod", "stop", "-t", "2", pod))
	mustSucceed(t, p.run(t, rt, "pod", "rm", pod))
}

func podmanExecTTYStdin(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	p.detached(t, rt, name, imageRef, "sleep", "1000")
	term := newPTY(t)
	inv := p.invocation(rt, "exec", "-t", name, "sh", "-c", ttyScript)
	inv.stdio = term.slave
	r := inv.run(t)
	term.slave.Close()
	<-term.done
	if r.code != 0 {
		t.Fatalf("%v\n%v", r, term)
	}
	for _, want := range []string{"/dev/pts/", "size 24 80", "stdin-is-a-tty"} {
		if !strings.Contains(term.output(), want) {
			t.Fatalf("no %q on the exec's terminal\n%v", want, term)
		}
	}
	inv = p.invocation(rt, "exec", "-i", name, "sh", "-c", "tr a-z A-Z")
	inv.stdin = strings.NewReader("into exec\n")
	r = mustSucceed(t, inv.run(t))
	if r.stdout != "INTO EXEC\n" {
		t.Fatalf("exec -i: %v", r)
	}
}

// podmanRestart makes the runtime create a container again under an id it
// has deleted before.
func podmanRestart(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	p.detached(t, rt, name, imageRef, "sh", "-c", `echo run; `+loopScript)
	pid1 := strings.TrimSpace(mustSucceed(t, p.run(t, rt, "inspect", "--format", "{{.State.Pid}}", name)).stdout)
	mustSucceed(t, p.run(t, rt, "restart", "-t", "10", name))
	p.waitStatus(t, rt, name, "running")
	pid2 := strings.TrimSpace(mustSucceed(t, p.run(t, rt, "inspect", "--format", "{{.State.Pid}}", name)).stdout)
	if pid1 == pid2 {
		t.Fatalf("restart kept PID %s", pid1)
	}
	mustSucceed(t, p.run(t, rt, "stop", "-t", "10", name))
	mustSucceed(t, p.run(t, rt, "start", name))
	p.waitStatus(t, rt, name, "running")
	eventually(t, 10*time.Second, func() error {
		r := p.run(t, rt, "logs", name)
		if n := strings.Count(r.stdout, "run\n"); n != 3 {
			return fmt.Errorf("want 3 runs in the logs, got %d: %v", n, r)
		}
		return nil
	})
}

func podmanVolumes(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := t.TempDir()
	vol := name + "-vol"
	t.Cleanup(func() { p.run(t, rt, "volume", "rm", "-f", vol) })
	r := mustSucceed(t, p.run(t, rt, "run", "--rm",
		"-v", host+":/data", "-v", ro+":/ro:ro", "-v", vol+":/vol", "--tmpfs", "/scratch:size=1m,mode=1777",
		imageRef, "sh", "-c", `cat /data/in; echo out > /data/out; echo kept > /vol/f; touch /ro/x 2>&1; grep -E ' /(scratch|ro) ' /proc/mounts`))
	mustContain(t, r, "from host")
	if !strings.Contains(r.stdout, "Read-only file system") {
		t.Fatalf("wrote to a :ro volume: %v", r)
	}
	if !strings.Contains(r.stdout, "/scratch tmpfs rw") || !strings.Contains(r.stdout, "size=1024k") {
		t.Fatalf("--tmpfs is not a 1m tmpfs: %v", r)
	}
	if b, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(b) != "out\n" {
		t.Fatalf("the container's write did not reach the host: %q, %v", b, err)
	}
	r = mustSucceed(t, p.run(t, rt, "run", "--rm", "-v", vol+":/vol", imageRef, "cat", "/vol/f"))
	if r.stdout != "kept\n" {
		t.Fatalf("the named volume lost its file: %v", r)
	}
}

func podmanPrivileged(t *testing.T, p podmanEnv, rt runtimeUnderTest, _ string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--privileged", imageRef, "sh", "-c",
		"grep -E '^(CapEff|Seccomp):' /proc/self/status; test -c /dev/kmsg && echo host-devices; grep ' /sys ' /proc/mounts"))
	mustContain(t, r, "Seccomp:\t0")
	mustContain(t, r, "host-devices")
	if strings.Contains(r.stdout, "CapEff:\t0000000000000000") || !strings.Contains(r.stdout, "CapEff:\t000001ff") && !strings.Contains(r.stdout, "CapEff:\t000000ff") {
		t.Fatalf("a privileged container lacks capabilities: %v", r)
	}
	if !strings.Contains(r.stdout, "sysfs rw") {
		t.Fatalf("/sys is not writable in a privileged container: %v", r)
	}
}

func podmanNamespacesDevices(t *testing.T, p podmanEnv, rt runtimeUnderTest, _ string) {
	r := mustSucceed(t, p.run(t, rt, "run", "--rm", "--pid", "host", "--ipc", "host", "--uts", "host", "--cgroupns", "host", imageRef,
		"sh", "-c", "for ns in pid ipc uts cgroup; do readlink /proc/self/ns/$ns; done"))
	var host []string
	for _, ns := range []string{"pid", "ipc", "uts", "cgroup"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		host = append(host, l)
	}
	if got := strings.Fields(r.stdout); strings.Join(got, " ") != strings.Join(host, " ") {
		t.Fatalf("host namespaces: got %q, want %q", got, host)
	}
	// A private cgroup namespace has the container's cgroup as its root
	// (the v1 lines of a hybrid host come first).
	r = mustSucceed(t, p.run(t, rt, "run", "--rm", "--cgroupns", "private", imageRef, "cat", "/proc/self/cgroup"))
	if !strings.HasSuffix(r.stdout, "\n0::/\n") && r.stdout != "0::/\n" {
		t.Fatalf("private cgroupns: %v", r)
	}
	r = mustSucceed(t, p.run(t, rt, "run", "--rm", "--device", "/dev/null:/dev/mynull:rw", imageRef,
		"sh", "-c", "stat -c '%t,%T %F' /dev/mynull && echo x > /dev/mynull && echo written"))
	if r.stdout != "1,3 character special file\nwritten\n" {
		t.Fatalf("--device: %v", r)
	}
}

// podmanRmPaused removes a frozen container: the runtime must kill what it
// cannot thaw first.
func podmanRmPaused(t *testing.T, p podmanEnv, rt runtimeUnderTest, name string) {
	p.detached(t, rt, name, imageRef, "sleep", "1000")
	pid := strings.TrimSpace(mustSucceed(t, p.run(t, rt, "inspect", "--format", "{{.State.Pid}}", name)).stdout)
	mustSucceed(t, p.run(t, rt, "pause", name))
	p.waitStatus(t, rt, name, "paused")
	mustSucceed(t, p.run(t, rt, "rm", "-f", "-t", "0", name))
	if r := p.run(t, rt, "container", "exists", name); r.code != 1 {
		t.Fatalf("container left after rm -f: %v", r)
	}
	eventually(t, 5*time.Second, func() error {
		if _, err := os.Stat("/proc/" + pid); err == nil {
			return fmt.Errorf("process %s of the paused container still exists", pid)
		}
		return nil
	})
}

func podmanLimits(t *testing.T, _ podmanEnv, _ runtimeUnderTest, _ string) {
	t.Skip("the memory and pids controllers are bound to cgroup v1 on this host (its cgroup2 has only hugetlb); " +
		"limits are tested in a pure cgroup v2 guest by `make test-vm`")
}
