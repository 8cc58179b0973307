package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/cgroups/bpf"
	"github.com/barco-oci/barco/libbarco/cgroups/bpf/bpftest"
)

func devRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major != wildcard {
		d.Major = &major
	}
	if minor != wildcard {
		d.Minor = &minor
	}
	return d
}

func TestParseAndEffectiveRules(t *testing.T) {
	var defaults []string
	for _, r := range defaultDeviceRules() {
		defaults = append(defaults, r.String())
	}
	tests := []struct {
		name         string
		devs         []specs.LinuxDeviceCgroup
		defaultAllow bool
		rules        []string // before the defaults
		wantErr      string
	}{
		{name: "no rules: deny all but the defaults"},
		{
			name:  "the usual deny-all first",
			devs:  []specs.LinuxDeviceCgroup{devRule(false, "a", -1, -1, "rwm"), devRule(true, "c", 10, 200, "rwm")},
			rules: []string{"allow c 10:200 rwm"},
		},
		{
			name:         "allow-all resets the rules before it",
			devs:         []specs.LinuxDeviceCgroup{devRule(true, "c", 1, 11, "r"), devRule(true, "", -1, -1, ""), devRule(false, "b", 8, -1, "w")},
			defaultAllow: true,
			rules:        []string{"deny b 8:* w"},
		},
		{
			name:  "partial wildcards are rules, not resets",
			devs:  []specs.LinuxDeviceCgroup{devRule(false, "a", -1, -1, "m"), devRule(true, "c", -1, -1, "rwm")},
			rules: []string{"deny a *:* m", "allow c *:* rwm"},
		},
		{name: "bad type", devs: []specs.LinuxDeviceCgroup{devRule(true, "x", 1, 1, "r")},
			wantErr: `linux.resources.devices[0].type: "x" is not a, b or c`},
		{name: "bad access", devs: []specs.LinuxDeviceCgroup{devRule(true, "c", 1, 1, "rx")},
			wantErr: `linux.resources.devices[0].access: "rx": 'x' is not r, w or m`},
		{name: "bad major", devs: []specs.LinuxDeviceCgroup{{}, devRule(true, "c", -2, 1, "r")},
			wantErr: `linux.resources.devices[1].major: -2 is not a device number`},
		{name: "minor too big", devs: []specs.LinuxDeviceCgroup{devRule(true, "c", 1, 1<<32, "r")},
			wantErr: `linux.resources.devices[0].minor: 4294967296 is not a device number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parsed, err := parseDeviceRules(tt.devs)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseDeviceRules() = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defaultAllow, rules := effectiveRules(parsed)
			var got []string
			for _, r := range rules {
				got = append(got, r.String())
			}
			want := append(slices.Clone(tt.rules), defaults...)
			if defaultAllow != tt.defaultAllow || !slices.Equal(got, want) {
				t.Errorf("effective rules = %v, %q\nwant %v, %q", defaultAllow, got, tt.defaultAllow, want)
			}
		})
	}
}

// TestDeviceProgramLoads has the kernel verifier accept the programs of
// several rule sets. The cgroup device hook has no BPF_PROG_TEST_RUN, so
// their decisions are checked by TestDeviceFilter from inside a cgroup.
func TestDeviceProgramLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	sets := [][]specs.LinuxDeviceCgroup{
		nil,
		{devRule(false, "a", -1, -1, "rwm")},
		{devRule(true, "a", -1, -1, "rwm"), devRule(false, "c", 1, 11, "w"), devRule(false, "b", -1, 0, "m")},
		{devRule(true, "c", 1<<32-1, 1<<31, "rw")},
	}
	for i, devs := range sets {
		rules, err := parseDeviceRules(devs)
		if err != nil {
			t.Fatal(err)
		}
		code, err := deviceProgram(effectiveRules(rules))
		if err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
		prog, err := bpf.ProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, code, "MIT", "test")
		if err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
		unix.Close(prog)
	}
}

// TestDeviceFilter attaches the device program of each rule set to a real
// cgroup and opens device nodes from a process inside it.
func TestDeviceFilter(t *testing.T) {
	mount := needCgroup2(t)
	dir := nodeDir(t)
	nodes := map[string]uint64{
		"kmsg":  unix.Mkdev(1, 11), // not a default device
		"null2": unix.Mkdev(1, 3),  // /dev/null under another name
		"loop":  unix.Mkdev(7, 0),  // a block device
	}
	for name, dev := range nodes {
		mode := uint32(unix.S_IFCHR)
		if name == "loop" {
			mode = unix.S_IFBLK
		}
		if err := unix.Mknod(filepath.Join(dir, name), mode|0o600, int(dev)); err != nil {
			t.Skipf("mknod: %v", err)
		}
	}
	node := func(n string) string { return filepath.Join(dir, n) }
	denyAll := devRule(false, "a", -1, -1, "rwm")
	tests := []struct {
		name string
		devs []specs.LinuxDeviceCgroup
		open []string // MODE:PATH
		want []string
	}{
		{
			name: "deny all keeps the defaults",
			devs: []specs.LinuxDeviceCgroup{denyAll},
			open: []string{"rw:/dev/null", "r:/dev/zero", "r:" + node("null2"), "r:" + node("kmsg")},
			want: []string{"allowed", "allowed", "allowed", "denied"},
		},
		{
			name: "no rules is deny all",
			open: []string{"rw:/dev/null", "r:" + node("kmsg")},
			want: []string{"allowed", "denied"},
		},
		{
			name: "allow read only",
			devs: []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, 11, "r")},
			open: []string{"r:" + node("kmsg"), "w:" + node("kmsg"), "rw:" + node("kmsg")},
			want: []string{"allowed", "denied", "denied"},
		},
		{
			name: "allow all",
			devs: []specs.LinuxDeviceCgroup{denyAll, devRule(true, "a", -1, -1, "rwm")},
			open: []string{"rw:" + node("kmsg")},
			want: []string{"allowed"},
		},
		{
			name: "a later deny of w refuses O_RDWR",
			devs: []specs.LinuxDeviceCgroup{devRule(true, "a", -1, -1, "rwm"), devRule(false, "c", 1, 11, "w")},
			open: []string{"r:" + node("kmsg"), "rw:" + node("kmsg"), "r:" + node("loop")},
			want: []string{"allowed", "denied", "allowed"},
		},
		{
			name: "type matters",
			devs: []specs.LinuxDeviceCgroup{denyAll, devRule(true, "b", 1, 11, "rwm"), devRule(true, "c", 7, 0, "rwm")},
			open: []string{"r:" + node("kmsg"), "r:" + node("loop")},
			want: []string{"denied", "denied"},
		},
		{
			name: "the defaults win over a deny",
			devs: []specs.LinuxDeviceCgroup{devRule(true, "a", -1, -1, "rwm"), devRule(false, "c", 1, 3, "rwm")},
			open: []string{"rw:/dev/null", "rw:" + node("null2")},
			want: []string{"allowed", "allowed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManager(t, mount, "c")
			if err := m.Create(nil); err != nil {
				t.Fatal(err)
			}
			if err := m.setDevices(tt.devs); err != nil {
				t.Fatal(err)
			}
			got := openInCgroup(t, m, tt.open)
			if !slices.Equal(got, tt.want) {
				t.Errorf("open %q = %q, want %q", tt.open, got, tt.want)
			}
		})
	}

	t.Run("replacing keeps one program", func(t *testing.T) {
		m := testManager(t, mount, "c")
		if err := m.Create(nil); err != nil {
			t.Fatal(err)
		}
		for _, devs := range [][]specs.LinuxDeviceCgroup{{devRule(true, "a", -1, -1, "rwm")}, {denyAll}} {
			if err := m.setDevices(devs); err != nil {
				t.Fatal(err)
			}
		}
		if names := bpftest.DeviceProgramNames(t, m.Dir()); !slices.Equal(names, []string{deviceProgramName}) {
			t.Errorf("device programs attached after two Sets: %q, want one %q", names, deviceProgramName)
		}
		if got := openInCgroup(t, m, []string{"r:" + node("kmsg")}); got[0] != "denied" {
			t.Errorf("open kmsg after replacing allow-all by deny-all: %s, want denied", got[0])
		}
	})
}

// TestDetachProgramGone checks that replacing a device program does not
// fail when an old program went away between the query and the detach.
func TestDetachProgramGone(t *testing.T) {
	mount := needCgroup2(t)
	load := func(t *testing.T) int {
		code, err := deviceProgram(true, nil)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := bpf.ProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, code, "MIT", "test")
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	idOf := func(t *testing.T, fd int) uint32 {
		info, err := bpf.ProgInfoByFD(fd)
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	tests := []struct {
		name string
		// id returns the id to detach from the cgroup cgroupFD.
		id func(t *testing.T, cgroupFD int) uint32
	}{
		{
			name: "unloaded",
			id: func(t *testing.T, _ int) uint32 {
				fd := load(t)
				id := idOf(t, fd)
				unix.Close(fd) // the last reference: the id is freed
				return id
			},
		},
		{
			name: "loaded but detached",
			id: func(t *testing.T, _ int) uint32 {
				fd := load(t)
				t.Cleanup(func() { unix.Close(fd) })
				return idOf(t, fd)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManager(t, mount, "c")
			if err := m.Create(nil); err != nil {
				t.Fatal(err)
			}
			fd, err := unix.Open(m.Dir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if err := detachProgram(fd, tt.id(t, fd)); err != nil {
				t.Errorf("detachProgram() = %v, want nil", err)
			}
		})
	}
}

// nodeDir returns a directory where device nodes work: t.TempDir(), unless
// it is on a nodev mount (as /tmp is in the test VM), where every open
// fails with EACCES; then a directory under /dev.
func nodeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Flags&unix.ST_NODEV == 0 {
		return dir
	}
	dir, err := os.MkdirTemp("/dev", "barco-test-")
	if err != nil {
		t.Skipf("%s is nodev and /dev is not writable: %v", t.TempDir(), err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// openInCgroup opens each MODE:PATH from a process in m and reports whether
// the device filter let it through: "denied" for EPERM, "allowed" when the
// open worked or the driver refused (ENXIO for an unbound loop device), and
// the errno otherwise.
func openInCgroup(t *testing.T, m *Manager, open []string) []string {
	t.Helper()
	h, err := startHelper(t, m, "open", open...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range open {
		switch res := h.readLine(t); res {
		case "ok", "ENXIO", "ENODEV":
			got = append(got, "allowed")
		case "EPERM":
			got = append(got, "denied")
		default:
			got = append(got, res)
		}
	}
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	return got
}

// String renders a rule like a v1 devices.list line, for test messages.
func (r deviceRule) String() string {
	num := func(n int64) string {
		if n == wildcard {
			return "*"
		}
		return fmt.Sprint(n)
	}
	var acc strings.Builder
	for _, a := range []struct {
		bit uint32
		c   byte
	}{{accRead, 'r'}, {accWrite, 'w'}, {accMknod, 'm'}} {
		if r.access&a.bit != 0 {
			acc.WriteByte(a.c)
		}
	}
	verb := "deny"
	if r.allow {
		verb = "allow"
	}
	return fmt.Sprintf("%s %c %s:%s %s", verb, r.typ, num(r.major), num(r.minor), acc.String())
}
