package cgroups

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setDevices replaces the cgroup's device program with one for devs.
func (m *Manager) setDevices(devs []specs.LinuxDeviceCgroup) error {
	rules, err := parseDeviceRules(devs)
	if err != nil {
		return err
	}
	defaultAllow, rules := effectiveRules(rules)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "barco_devices",
		Type:         ebpf.CGroupDevice,
		License:      "MIT",
		Instructions: deviceProgram(defaultAllow, rules),
	})
	if err != nil {
		return fmt.Errorf("linux.resources.devices: load device program: %w", err)
	}
	defer prog.Close()
	if err := attachDeviceProgram(m.Dir(), prog); err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	return nil
}

// attachDeviceProgram attaches prog to the cgroup dir and then detaches the
// device programs attached there before, so that the cgroup is never without
// a filter. It uses BPF_PROG_ATTACH rather than a bpf_link: the attachment
// must outlive this process and last as long as the cgroup.
func attachDeviceProgram(dir string, prog *ebpf.Program) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("query device programs of %s: %w", dir, err)
	}
	// ALLOW_MULTI lets the old and the new program coexist for a moment;
	// every attached program must then allow an access.
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	for _, p := range old.Programs {
		if err := detachProgram(fd, p.ID); err != nil {
			return fmt.Errorf("detach old device program %d from %s: %w", p.ID, dir, err)
		}
	}
	return nil
}

func detachProgram(cgroupFD int, id ebpf.ProgramID) error {
	p, err := ebpf.NewProgramFromID(id)
	if errors.Is(err, unix.ENOENT) {
		return nil // gone meanwhile
	}
	if err != nil {
		return err
	}
	defer p.Close()
	return link.RawDetachProgram(link.RawDetachProgramOptions{
		Target:  cgroupFD,
		Program: p,
		Attach:  ebpf.AttachCGroupDevice,
	})
}
