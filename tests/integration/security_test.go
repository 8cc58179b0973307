package integration

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// statusField returns the value of a "Name:\tvalue" line of /proc/PID/status
// text.
func statusField(t *testing.T, status, name string) string {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in %q", name, status)
	return ""
}

func TestCapabilitySets(t *testing.T) {
	c := newRuntime(t).newContainer("cat", "/proc/self/status")
	c.spec.Process.User = specs.User{UID: 1000, GID: 1000}
	c.spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
		Effective:   []string{"CAP_KILL"},
		Permitted:   []string{"CAP_KILL", "CAP_CHOWN"},
		Inheritable: []string{"CAP_KILL"},
		Ambient:     []string{"CAP_KILL"},
	}
	out := c.runOK()
	// As a non-root user after execve: permitted and effective are the
	// ambient set; inheritable and bounding are kept as given.
	want := map[string]string{
		"CapBnd": "0000000000000421",
		"CapInh": "0000000000000020",
		"CapPrm": "0000000000000020",
		"CapEff": "0000000000000020",
		"CapAmb": "0000000000000020",
	}
	for field, v := range want {
		if got := statusField(t, out, field); got != v {
			t.Errorf("%s = %s, want %s", field, got, v)
		}
	}

	bad := newRuntime(t).newContainer("true")
	bad.spec.Process.Capabilities.Bounding = append(bad.spec.Process.Capabilities.Bounding, "CAP_NOT_A_CAP")
	expectFailure(t, bad, bad.create(), bad.id, "process.capabilities.bounding[3]", "CAP_NOT_A_CAP")
}

func TestNoNewPrivilegesRlimitsOOMScore(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "grep NoNewPrivs /proc/self/status; grep 'Max open files' /proc/self/limits; cat /proc/self/oom_score_adj")
	adj := 500
	c.spec.Process.OOMScoreAdj = &adj
	c.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1234, Hard: 2345}}
	out := c.runOK()
	assertContains(t, "output", out, "NoNewPrivs:\t1")
	if f := strings.Fields(out); !strings.Contains(out, "Max open files") || !containsSeq(f, "1234", "2345") {
		t.Errorf("RLIMIT_NOFILE not applied: %q", out)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), "500") {
		t.Errorf("oom_score_adj not applied: %q", out)
	}

	c2 := newRuntime(t).newContainer("grep", "NoNewPrivs", "/proc/self/status")
	c2.spec.Process.NoNewPrivileges = false
	assertContains(t, "output", c2.runOK(), "NoNewPrivs:\t0")
}

func containsSeq(fields []string, seq ...string) bool {
	for i := 0; i+len(seq) <= len(fields); i++ {
		if strings.Join(fields[i:i+len(seq)], " ") == strings.Join(seq, " ") {
			return true
		}
	}
	return false
}

func TestSysctl(t *testing.T) {
	c := newRuntime(t).newContainer("cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni")
	c.spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
	if got := strings.Fields(c.runOK()); len(got) != 2 || got[0] != "1" || got[1] != "1234" {
		t.Errorf("sysctls not applied: %q", got)
	}

	bad := newRuntime(t).newContainer("true")
	bad.spec.Linux.Sysctl = map[string]string{"vm.swappiness": "10"}
	expectFailure(t, bad, bad.create(), bad.id, `linux.sysctl["vm.swappiness"]`, "not a namespaced sysctl")
}

func TestSeccompErrno(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "mkdir /tmp/x; echo rc=$?; grep Seccomp: /proc/self/status")
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	c.spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
	}
	for _, nnp := range []bool{true, false} {
		c.spec.Process.NoNewPrivileges = nnp
		res := c.run()
		if res.Code != 0 {
			t.Fatalf("nnp=%v\n%s", nnp, res)
		}
		assertContains(t, "output", res.Stdout, "rc=1", "Seccomp:\t2")
		assertContains(t, "stderr", res.Stderr, "Operation not permitted")
	}

	bad := newRuntime(t).newContainer("true")
	bad.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}
	expectFailure(t, bad, bad.create(), bad.id, "linux.seccomp.defaultAction")
}

// A notify filter's listener fd goes to the agent at listenerPath with the
// container's state, as runtime-spec describes.
func TestSeccompNotifyListener(t *testing.T) {
	c := newRuntime(t).newContainer("true")
	sock := filepath.Join(shortTempDir(t), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type received struct {
		state  specs.ContainerProcessState
		fdKind string
		err    error
	}
	got := make(chan received, 1)
	go func() {
		var r received
		defer func() { got <- r }()
		conn, err := ln.Accept()
		if err != nil {
			r.err = err
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := conn.(*net.UnixConn).ReadMsgUnix(buf, oob)
		if err != nil {
			r.err = err
			return
		}
		r.err = json.Unmarshal(buf[:n], &r.state)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) == 1 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
				r.fdKind, _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(fds[0]))
				unix.Close(fds[0])
			}
		}
	}()
	c.spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     sock,
		ListenerMetadata: "test-metadata",
		// A syscall the container never makes, so nothing waits on the agent.
		Syscalls: []specs.LinuxSyscall{{Names: []string{"swapon"}, Action: specs.ActNotify}},
	}
	c.runOK()
	var r received
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent received nothing")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.state.Metadata != "test-metadata" || r.state.State.ID != c.id || r.state.Pid <= 0 {
		t.Errorf("agent got %+v", r.state)
	}
	if len(r.state.Fds) != 1 || r.state.Fds[0] != specs.SeccompFdName {
		t.Errorf("fds %v, want [%s]", r.state.Fds, specs.SeccompFdName)
	}
	if !strings.Contains(r.fdKind, "seccomp") {
		t.Errorf("passed fd is %q, not a seccomp listener", r.fdKind)
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c",
		"wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid && echo writable")
	res := c.run()
	out := strings.Fields(res.Stdout)
	if len(out) != 2 || out[0] != "0" || out[1] != "0" {
		t.Errorf("masked paths visible: %q\n%s", out, res)
	}
	assertContains(t, "stderr", res.Stderr, "Read-only file system")

	// The null device bound over masked paths must be the real one.
	bad := newRuntime(t).newContainer("true")
	major, minor := int64(1), int64(5)
	mode := os.FileMode(0o666)
	bad.spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: major, Minor: minor, FileMode: &mode}}
	expectFailure(t, bad, bad.create(), bad.id, "not the null device")
}

func TestMountOptions(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c",
		"touch /rro/x 2>&1; cat /etc-copy/hostname; touch /etc-copy/new && echo copy-writable")
	c.spec.Mounts = append(c.spec.Mounts,
		specs.Mount{Destination: "/rro", Type: "tmpfs", Source: "tmpfs", Options: []string{"rro"}},
		specs.Mount{Destination: "/etc-copy", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}},
	)
	if err := os.MkdirAll(filepath.Join(c.bundle, "rootfs", "etc-copy"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.bundle, "rootfs", "etc-copy", "hostname"), "from-image\n")
	out := c.runOK()
	assertContains(t, "output", out, "Read-only file system", "from-image", "copy-writable")
	if _, err := os.Stat(filepath.Join(c.bundle, "rootfs", "etc-copy", "new")); err == nil {
		t.Error("a write to the tmpcopyup tmpfs reached the image")
	}
}

func TestSchedulerIOPriorityPersonality(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "cut -d' ' -f19,41 /proc/self/stat; ionice; uname -m")
	c.spec.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}
	c.spec.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
	c.spec.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	out := strings.Split(strings.TrimSpace(c.runOK()), "\n")
	if len(out) != 3 {
		t.Fatalf("output %q", out)
	}
	if out[0] != "7 3" {
		t.Errorf("nice and policy %q, want \"7 3\" (SCHED_BATCH)", out[0])
	}
	if !strings.Contains(out[1], "best-effort") || !strings.Contains(out[1], "6") {
		t.Errorf("io priority %q, want best-effort 6", out[1])
	}
	if out[2] != "i686" {
		t.Errorf("uname -m %q under LINUX32, want i686", out[2])
	}
}

func TestAppArmorWithoutHostSupport(t *testing.T) {
	if data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.HasPrefix(string(data), "Y") {
		t.Skip("this host has AppArmor")
	}
	c := newRuntime(t).newContainer("true")
	c.spec.Process.ApparmorProfile = "some-profile"
	expectFailure(t, c, c.create(), c.id, "AppArmor is not enabled")
}

// An idmapped bind mount shows host-root files as the mapped owner, and a
// file created through it lands on the host as the unmapped owner.
func TestIDMappedMount(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "stat -c '%u:%g' /idm/file; touch /idm/new; stat -c '%u:%g' /idm/new")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file"), "x")
	// The directory is host root's (0700): only through the mapping can
	// user 1000 in the container write to it.
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
		Destination: "/idm", Type: "bind", Source: dir, Options: []string{"rbind", "idmap"},
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
	})
	c.spec.Process.User = specs.User{UID: 1000, GID: 1000}
	out := strings.Fields(c.runOK())
	// The file is owned by host root (on-disk 0), shown as 1000.
	if len(out) != 2 || out[0] != "1000:1000" || out[1] != "1000:1000" {
		t.Fatalf("owners through the idmapped mount: %q", out)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "new"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 0 || st.Gid != 0 {
		t.Errorf("file created through the mount is %d:%d on the host, want 0:0", st.Uid, st.Gid)
	}
}

func TestMemoryPolicy(t *testing.T) {
	if _, err := os.Stat("/proc/self/numa_maps"); err != nil {
		t.Skip("no NUMA support in this kernel")
	}
	for mode, shown := range map[specs.MemoryPolicyModeType]string{specs.MpolBind: "bind:0", specs.MpolInterleave: "interleave:0"} {
		c := newRuntime(t).newContainer("head", "-1", "/proc/self/numa_maps")
		c.spec.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: mode, Nodes: "0"}
		if got := strings.Fields(c.runOK()); len(got) < 2 || got[1] != shown {
			t.Errorf("%s: numa_maps %q, want policy %s", mode, got, shown)
		}
	}
	bad := newRuntime(t).newContainer("true")
	bad.spec.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_BOGUS"}
	expectFailure(t, bad, bad.create(), bad.id, "linux.memoryPolicy.mode")
}
