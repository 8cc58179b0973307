package cgroupv2

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// probeDevices opens each device for reading and for writing inside the
// container and prints "<name> <r|w> ok|denied". A subshell takes the
// failed redirection, which would end the shell itself.
const probeDevices = `for d in null zero full random urandom kmsg-test; do
	for m in r w; do
		if [ $m = r ]; then ( : </dev/$d ) 2>/dev/null && r=ok || r=denied
		else ( : >/dev/$d ) 2>/dev/null && r=ok || r=denied; fi
		echo "$d $m $r"
	done
done`

// TestDevices checks the device controller with the default deny-all rule.
// The denied node is the host's /dev/kmsg bind-mounted in: runtimes allow
// the default devices and those of linux.devices after the spec's own rules
// (runc's behaviour, which barco follows), so neither kind can be denied.
// /dev/kmsg is opened write-only for the probe, which needs no CAP_SYSLOG.
func TestDevices(t *testing.T) {
	defaults := []string{"null", "zero", "full", "random", "urandom"}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		kmsg  string // expected outcome of opening /dev/kmsg-test for writing
	}{
		{"deny-all", nil, "denied"},
		{"allow-rule", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](11), Access: "w"}}, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t, "sh", "-c", probeDevices)
			c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
				Destination: "/dev/kmsg-test", Type: "bind", Source: "/dev/kmsg", Options: []string{"bind"},
			})
			c.spec.Linux.Resources.Devices = append(c.spec.Linux.Resources.Devices, tc.rules...)
			res := c.run()
			if res.Code != 0 {
				t.Fatalf("device probe failed\n%s", res)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
				if f := strings.Fields(line); len(f) == 3 {
					got[f[0]+" "+f[1]] = f[2]
				}
			}
			for _, d := range defaults {
				for _, m := range []string{"r", "w"} {
					if got[d+" "+m] != "ok" {
						t.Errorf("default device /dev/%s, open for %s: %q, want ok", d, m, got[d+" "+m])
					}
				}
			}
			if got["kmsg-test w"] != tc.kmsg {
				t.Errorf("/dev/kmsg-test (c 1:11), open for writing: %q, want %s\n%s", got["kmsg-test w"], tc.kmsg, res.Stdout)
			}
		})
	}
}
