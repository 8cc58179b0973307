// Package systemd tests barco's --systemd-cgroup driver end to end against
// a real systemd. It runs only inside the guest that tests/vm/run-systemd.sh
// boots (systemd as the init of a container, with a D-Bus system bus).
package systemd

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// run runs a command and returns its output. The output goes through a
// file, not a pipe: a detached container inherits it and would keep a pipe
// open until it exits.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

func TestMain(m *testing.M) {
	// Containers started detached are re-parented to us: reap them.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	os.Exit(m.Run())
}

func TestSystemdCgroupContainer(t *testing.T) {
	if os.Getenv("BARCO_SYSTEMD_TEST") != "1" {
		t.Skip("needs a real systemd: run tests/vm/run-systemd.sh")
	}
	bin, rootfs := os.Getenv("BARCO_BINARY"), os.Getenv("BARCO_ROOTFS")
	if bin == "" || rootfs == "" {
		t.Fatal("BARCO_BINARY and BARCO_ROOTFS must be set")
	}
	root := filepath.Join(t.TempDir(), "state")
	bundle := t.TempDir()
	if out, err := run(t, "cp", "-a", rootfs, filepath.Join(bundle, "rootfs")); err != nil {
		t.Fatalf("copy rootfs: %v\n%s", err, out)
	}
	if out, err := run(t, bin, "spec", "--bundle", bundle); err != nil {
		t.Fatalf("spec: %v\n%s", err, out)
	}
	var s specs.Spec
	data, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	id := "sd" + strconv.Itoa(os.Getpid())
	limit := int64(123)
	s.Process.Terminal = false
	s.Process.Args = []string{"sleep", "1000"}
	s.Linux.CgroupsPath = "system.slice:barco:" + id
	s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
	data, _ = json.Marshal(&s)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	barco := func(args ...string) (string, error) {
		return run(t, bin, append([]string{"--systemd-cgroup", "--root", root}, args...)...)
	}
	if out, err := barco("run", "--detach", "--bundle", bundle, id); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	t.Cleanup(func() { barco("delete", "--force", id) })

	unit := "barco-" + id + ".scope"
	out, err := barco("state", id)
	if err != nil {
		t.Fatalf("state: %v\n%s", err, out)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	cg, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cgroup")
	if want := "0::/system.slice/" + unit; strings.TrimSpace(string(cg)) != want {
		t.Errorf("init's cgroup %q, want %q", strings.TrimSpace(string(cg)), want)
	}
	max, _ := os.ReadFile("/sys/fs/cgroup/system.slice/" + unit + "/pids.max")
	if strings.TrimSpace(string(max)) != "123" {
		t.Errorf("pids.max %q, want 123", max)
	}
	if out, _ := run(t, "systemctl", "show", "-p", "ActiveState", "-p", "TasksMax", unit); !strings.Contains(out, "ActiveState=active") || !strings.Contains(out, "TasksMax=123") {
		t.Errorf("systemd's view of %s: %q", unit, out)
	}
	// Inside, the cgroup namespace is rooted at the unit's cgroup.
	if out, err := barco("exec", id, "cat", "/proc/self/cgroup"); err != nil || strings.TrimSpace(out) != "0::/" {
		t.Errorf("cgroup seen inside: %q, %v", out, err)
	}
	if out, err := barco("delete", "--force", id); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := run(t, "systemctl", "show", "-p", "ActiveState", unit)
		if strings.Contains(out, "ActiveState=inactive") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %q after delete", unit, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat("/sys/fs/cgroup/system.slice/" + unit); err == nil {
		t.Error("the unit's cgroup is left after delete")
	}
}
