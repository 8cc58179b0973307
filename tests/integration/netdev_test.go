package integration

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var vethCount atomic.Int32

// vethPair makes a veth pair on the host with names of this test run and
// returns the two names; whatever is left of it is deleted at the end.
func vethPair(t *testing.T) (string, string) {
	t.Helper()
	n := vethCount.Add(1)
	a := fmt.Sprintf("bz%d-%da", os.Getpid()%100000, n)
	b := fmt.Sprintf("bz%d-%db", os.Getpid()%100000, n)
	if res := runCmd(t, "ip", "link", "add", a, "type", "veth", "peer", "name", b); res.Code != 0 {
		t.Skipf("cannot make a veth pair (no veth driver?)\n%s", res)
	}
	t.Cleanup(func() {
		if hostHasLink(t, a) {
			runCmd(t, "ip", "link", "del", a)
		}
	})
	return a, b
}

func hostHasLink(t *testing.T, name string) bool {
	t.Helper()
	return runCmd(t, "ip", "link", "show", "dev", name).Code == 0
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if res := runCmd(t, "ip", args...); res.Code != 0 {
		t.Fatalf("ip %v\n%s", args, res)
	}
}

// A device moves in renamed, with its permanent addresses of global scope
// and nothing else, and is up.
func TestNetDevicesMoved(t *testing.T) {
	host, _ := vethPair(t)
	mustIP(t, "addr", "add", "169.254.77.1/32", "dev", host)
	mustIP(t, "-6", "addr", "add", "fd00:77::1/64", "dev", host, "nodad")
	mustIP(t, "addr", "add", "10.77.0.1/24", "dev", host, "scope", "link")
	c := newRuntime(t).newContainer("sh", "-c", "ip -o addr show dev ctr0; ip -o link show dev ctr0")
	c.spec.Linux.NetDevices = map[string]specs.LinuxNetDevice{host: {Name: "ctr0"}}
	out := c.runOK()
	assertContains(t, "container's view", out, "inet 169.254.77.1/32 scope global ctr0", "inet6 fd00:77::1/64 scope global", ",UP")
	if strings.Contains(out, "10.77.0.1") {
		t.Errorf("an address of link scope moved along\n%s", out)
	}
	// A veth goes with the namespace that holds it.
	if hostHasLink(t, host) {
		t.Errorf("%s is back on the host after the container ended", host)
	}
}

// A "%d" template gets the first free number, and the device keeps its
// name when the config gives none.
func TestNetDevicesNames(t *testing.T) {
	a, b := vethPair(t)
	c := newRuntime(t).newContainer("sh", "-c", "ip -o link show | cut -d: -f2")
	c.spec.Linux.NetDevices = map[string]specs.LinuxNetDevice{a: {Name: "tpl%d"}, b: {}}
	out := c.runOK()
	assertContains(t, "container's devices", out, " tpl0@", " "+b+"@")
}

// A device that is not there, or a name the container already has, fails
// the create with the device named, and leaves the host's device and
// nothing else behind.
func TestNetDevicesErrors(t *testing.T) {
	host, _ := vethPair(t)
	for _, tt := range []struct {
		name string
		devs map[string]specs.LinuxNetDevice
		want string
	}{
		{"no such device", map[string]specs.LinuxNetDevice{"bz-none0": {}}, "linux.netDevices[bz-none0]: no such device in the runtime's network namespace"},
		{"name taken", map[string]specs.LinuxNetDevice{host: {Name: "lo"}}, fmt.Sprintf("linux.netDevices[%s]: a device named \"lo\" already exists in the container's network namespace", host)},
		{"host's namespace", map[string]specs.LinuxNetDevice{host: {Name: "ctr0"}}, "linux.netDevices: the container's network namespace is the runtime's own"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newRuntime(t).newContainer("true")
			c.spec.Linux.NetDevices = tt.devs
			if tt.name == "host's namespace" {
				for i, n := range c.spec.Linux.Namespaces {
					if n.Type == specs.NetworkNamespace {
						c.spec.Linux.Namespaces[i].Path = "/proc/self/ns/net"
					}
				}
			}
			res := c.create()
			if res.Code == 0 {
				t.Fatalf("create succeeded\n%s", res)
			}
			assertContains(t, "stderr", res.Stderr, tt.want)
			c.assertNothingLeft()
			if !hostHasLink(t, host) {
				t.Errorf("%s left the host", host)
			}
		})
	}
}

// Into a network namespace joined by path: the device stays there after
// the container has ended, as the namespace does.
func TestNetDevicesJoinedNamespace(t *testing.T) {
	host, _ := vethPair(t)
	ns := fmt.Sprintf("bz-it-%d", os.Getpid())
	mustIP(t, "netns", "add", ns)
	t.Cleanup(func() { runCmd(t, "ip", "netns", "del", ns) })
	c := newRuntime(t).newContainer("ip", "-o", "link", "show", "dev", "moved0")
	for i, n := range c.spec.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace {
			c.spec.Linux.Namespaces[i].Path = "/run/netns/" + ns
		}
	}
	c.spec.Linux.NetDevices = map[string]specs.LinuxNetDevice{host: {Name: "moved0"}}
	assertContains(t, "container's view", c.runOK(), "moved0@", ",UP")
	if res := runCmd(t, "ip", "-n", ns, "-o", "link", "show", "dev", "moved0"); res.Code != 0 {
		t.Errorf("moved0 is not in %s after the container ended\n%s", ns, res)
	}
}
