package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/tests/internal/mounts"
)

// Pause and resume use cgroup.freeze, which every cgroup v2 directory has,
// so they run on this host; the limit tests run in the pure v2 guest.
func TestPauseResume(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, c)
	c.mustBarco("pause", c.id)
	if s := c.state(); s.Status != "paused" {
		t.Fatalf("status after pause: %q", s.Status)
	}
	freeze, _ := os.ReadFile(filepath.Join(testCgroupDir(c.cgroup), "cgroup.freeze"))
	if strings.TrimSpace(string(freeze)) != "1" {
		t.Errorf("cgroup.freeze = %q after pause", freeze)
	}
	assertContains(t, "list", c.mustBarco("list").Stdout, "paused")
	res := c.barco("exec", c.id, "true")
	if res.Code == 0 || !strings.Contains(res.Stderr, "paused") {
		t.Errorf("exec in a paused container\n%s", res)
	}
	if res := c.barco("pause", c.id); res.Code == 0 {
		t.Errorf("pausing a paused container succeeded\n%s", res)
	}
	c.mustBarco("resume", c.id)
	if s := c.state(); s.Status != "running" {
		t.Fatalf("status after resume: %q", s.Status)
	}
	if res := c.barco("resume", c.id); res.Code == 0 || !strings.Contains(res.Stderr, "not paused") {
		t.Errorf("resuming a running container\n%s", res)
	}
	c.mustBarco("exec", c.id, "true")
	// A paused container can be force-deleted.
	c.mustBarco("pause", c.id)
	c.mustBarco("delete", "--force", c.id)
	c.assertNothingLeft()
}

func TestEventsStats(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 1000")
	startSleeper(t, c)
	res := c.mustBarco("events", "--stats", c.id)
	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			CPU struct {
				Usage struct {
					Total uint64 `json:"total"`
				} `json:"usage"`
			} `json:"cpu"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &ev); err != nil {
		t.Fatalf("events --stats output: %v\n%s", err, res)
	}
	if ev.Type != "stats" || ev.ID != c.id || ev.Data.CPU.Usage.Total == 0 {
		t.Errorf("stats event %+v", ev)
	}
	c.mustBarco("kill", c.id, "KILL")
	c.waitStatus("stopped")
	if res := c.barco("events", "--stats", c.id); res.Code == 0 {
		t.Errorf("stats of a stopped container\n%s", res)
	}
}

// This host's cgroup v2 hierarchy has no memory or pids controller: barco
// says so instead of silently running without the limit.
func TestMissingControllerIsAnError(t *testing.T) {
	mnt, err := mounts.Cgroup2()
	if err != nil {
		t.Skip(err)
	}
	ctrls, _ := os.ReadFile(filepath.Join(mnt, "cgroup.controllers"))
	if strings.Contains(string(ctrls), "memory") {
		t.Skip("this host's cgroup2 has the memory controller (run in the VM suite instead)")
	}
	c := newRuntime(t).newContainer("true")
	limit := int64(64 << 20)
	c.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	expectFailure(t, c, c.create(), c.id, `"memory" is not available`, "linux.resources.memory.limit")

	u := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, u)
	res := u.barco("update", "--pids-limit", "10", u.id)
	if res.Code == 0 || !strings.Contains(res.Stderr, `"pids" is not available`) {
		t.Errorf("update --pids-limit on a host without the pids controller\n%s", res)
	}
	res = u.barco("update", "--memory", "lots", u.id)
	if res.Code == 0 || !strings.Contains(res.Stderr, "--memory") {
		t.Errorf("update with a bad size\n%s", res)
	}
}

// A device given in linux.devices is created and allowed by the device
// filter; the filter still denies nodes the container was not given.
func TestDevicesAllowedByFilter(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "echo x > /dev/xfull; echo x > /dev/hidden-full")
	mode := os.FileMode(0o666)
	major, minor := int64(1), int64(7)
	c.spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/xfull", Type: "c", Major: major, Minor: minor, FileMode: &mode}}
	// A second node of another device (1:11 kmsg) made by hand in the
	// image: present, but not allowed.
	res := runCmd(t, "mknod", filepath.Join(c.bundle, "rootfs", "hidden-kmsg"), "c", "1", "11")
	if res.Code != 0 {
		t.Fatalf("mknod\n%s", res)
	}
	c.spec.Process.Args = []string{"sh", "-c", "echo x > /dev/xfull; echo x > /hidden-kmsg"}
	res = c.run()
	// Allowed: the write reaches the full device and fails with ENOSPC.
	assertContains(t, "stderr", res.Stderr, "No space left on device", "Operation not permitted")
}
