package cgroups

import (
	"errors"
	"fmt"

	"github.com/barco-oci/barco/libbarco/cgroups/bpf"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// deviceProgramName names the device program, for bpftool and for the
// systemd driver's tests telling it from systemd's own.
const deviceProgramName = "barco_devices"

// setDevices replaces the cgroup's device program with one for devs.
func (m *Manager) setDevices(devs []specs.LinuxDeviceCgroup) error {
	rules, err := parseDeviceRules(devs)
	if err != nil {
		return err
	}
	code, err := deviceProgram(effectiveRules(rules))
	if err != nil {
		return fmt.Errorf("linux.resources.devices: build device program: %w", err)
	}
	prog, err := bpf.ProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, code, "MIT", deviceProgramName)
	if err != nil {
		return fmt.Errorf("linux.resources.devices: load device program: %w", err)
	}
	defer unix.Close(prog)
	if err := attachDeviceProgram(m.Dir(), prog); err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	return nil
}

// attachDeviceProgram attaches the program prog to the cgroup dir and then
// detaches the device programs attached there before, so that the cgroup is
// never without a filter. It uses BPF_PROG_ATTACH rather than a bpf_link:
// the attachment must outlive this process and last as long as the cgroup.
func attachDeviceProgram(dir string, prog int) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	old, err := bpf.ProgQuery(fd, unix.BPF_CGROUP_DEVICE)
	if err != nil {
		return fmt.Errorf("query device programs of %s: %w", dir, err)
	}
	// ALLOW_MULTI lets the old and the new program coexist for a moment;
	// every attached program must then allow an access.
	if err := bpf.ProgAttach(fd, prog, unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	for _, id := range old {
		if err := detachProgram(fd, id); err != nil {
			return fmt.Errorf("detach old device program %d from %s: %w", id, dir, err)
		}
	}
	return nil
}

// detachProgram detaches the device program with the given id from the
// cgroup cgroupFD; a program that vanished meanwhile (detached by another
// process, so unloaded) is no error.
func detachProgram(cgroupFD int, id uint32) error {
	p, err := bpf.ProgGetFDByID(id)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(p)
	err = bpf.ProgDetach(cgroupFD, p, unix.BPF_CGROUP_DEVICE)
	if errors.Is(err, unix.ENOENT) {
		return nil // still loaded, but already detached from this cgroup
	}
	return err
}
