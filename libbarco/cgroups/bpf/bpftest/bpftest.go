// Package bpftest lets tests look at the eBPF programs attached to a
// cgroup.
package bpftest

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/cgroups/bpf"
)

// DeviceProgramNames lists the names of the device programs attached to
// the cgroup directory dir itself.
func DeviceProgramNames(t testing.TB, dir string) []string {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ids, err := bpf.ProgQuery(fd, unix.BPF_CGROUP_DEVICE)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, id := range ids {
		prog, err := bpf.ProgGetFDByID(id)
		if err != nil {
			t.Fatal(err)
		}
		info, err := bpf.ProgInfoByFD(prog)
		unix.Close(prog)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, info.Name)
	}
	return names
}
