// Package systemd is barco's --systemd-cgroup driver: it asks systemd, over
// D-Bus, for a transient scope unit holding the container, so that the
// container's cgroup belongs to a unit systemd knows about instead of being
// made behind systemd's back.
//
// systemd gets the resources it has unit properties for, so that it keeps
// them when it rewrites the unit's cgroup (daemon-reload, a property
// change); the fs driver (package cgroups) then writes every resource to the
// cgroup files, as it does without systemd, and does everything else: the
// device filter, freezing, statistics, killing.
//
// Devices: the unit gets no DevicePolicy or DeviceAllow. With neither set,
// systemd installs no device program of its own, and the fs driver's eBPF
// program is the only filter; systemd's would duplicate it with its own
// rules (and, for the rules it cannot express, deny differently).
package systemd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/cgroups"
)

// Manager handles the unit and cgroup of one container. Like the fs
// Manager it holds no open resources: every call that needs systemd opens
// its own D-Bus connection, so a Manager can be rebuilt by any later barco
// command from linux.cgroupsPath and the saved cgroup path.
type Manager struct {
	Unit  Unit
	Mount string // cgroup2 mount point
	// Path is the unit's cgroup relative to Mount. New sets the expected
	// one for the system manager; Apply replaces it with what systemd
	// reports. A user manager's is only known once the unit exists, so a
	// later command sets it from the saved state.
	Path string
	User bool // the calling user's systemd (session bus) instead of the system's
	// Description of the unit, shown by systemctl.
	Description string
	Log         *slog.Logger
}

// New parses cgroupsPath ("slice:prefix:name", or "" for ":barco:<id>")
// and finds the cgroup2 mount. It does not talk to systemd.
func New(cgroupsPath, id string, user bool) (*Manager, error) {
	slice := SystemSlice
	if user {
		slice = UserSlice
	}
	u, err := ParsePath(cgroupsPath, id, slice)
	if err != nil {
		return nil, err
	}
	mnt, err := cgroups.FindMount()
	if err != nil {
		return nil, err
	}
	m := &Manager{Unit: u, Mount: mnt, User: user, Description: "barco container " + id}
	if !user {
		// The system manager's slices start at the cgroup2 root.
		if m.Path, err = u.Path(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// FS returns the fs driver for the unit's cgroup, for what systemd leaves to
// the cgroupfs: Freeze, Thaw, Frozen, Stats, Procs, Exists, OpenFD (Kill is
// m.Kill).
func (m *Manager) FS() (*cgroups.Manager, error) {
	if m.Path == "" {
		return nil, fmt.Errorf("cgroup of unit %s is not known yet", m.Unit.Name)
	}
	fs := cgroups.NewManager(m.Mount, m.Path)
	fs.Log = m.Log
	return fs, nil
}

// Dir returns the unit's cgroup directory ("" while Path is unknown).
func (m *Manager) Dir() string {
	if m.Path == "" {
		return ""
	}
	return filepath.Join(m.Mount, m.Path)
}

// Apply starts the unit with pid in it and applies r. pid is a process the
// caller has already started in its own cgroup (systemd creates a scope only
// around an existing process); once Apply returns it is in the unit's
// cgroup, whose path is then m.Path. On error the unit may exist: the caller
// cleans up with Destroy, as after any failed create.
func (m *Manager) Apply(pid int, r *specs.LinuxResources) error {
	if pid <= 0 {
		return fmt.Errorf("start unit %s: invalid pid %d", m.Unit.Name, pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	conn, err := m.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	res, err := resourceProperties(r, systemdVersion(conn))
	if err != nil {
		return err
	}
	props := append(unitProperties(m.Unit, m.Description, pid), res...)
	if err := startUnit(ctx, conn, m.Unit.Name, props); err != nil {
		return err
	}
	path, err := controlGroup(ctx, conn, m.Unit)
	if err != nil {
		return err
	}
	m.Path = path
	fs, err := m.FS()
	if err != nil {
		return err
	}
	if m.Unit.IsSlice() {
		// systemd moves processes into scopes only; into a slice we move
		// the process ourselves.
		if err := os.WriteFile(filepath.Join(fs.Dir(), "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move pid %d into %s: %w", pid, m.Unit.Name, err)
		}
	}
	if err := checkMember(pid, path); err != nil {
		return err
	}
	if err := checkEnabled(fs.Dir(), r); err != nil {
		return err
	}
	return fs.Set(r)
}

// Update changes the resources of a running container (`barco update`): r
// is the complete new resources, as for the fs driver's Update. systemd
// keeps the new properties only until the unit stops (runtime=true): the
// unit is transient anyway.
func (m *Manager) Update(r *specs.LinuxResources) error {
	fs, err := m.FS()
	if err != nil {
		return err
	}
	// Checked before systemd lowers memory.max: the fs driver's own check
	// would come too late.
	if err := checkMemoryUsage(fs.Dir(), r); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	conn, err := m.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	props, err := resourceProperties(r, systemdVersion(conn))
	if err != nil {
		return err
	}
	if len(props) > 0 {
		if err := conn.SetUnitPropertiesContext(ctx, m.Unit.Name, true, props...); err != nil {
			return fmt.Errorf("set properties of unit %s: %w", m.Unit.Name, err)
		}
	}
	return fs.Update(r)
}

// Kill is the fs driver's Kill for the unit's cgroup. systemd removes a
// scope's cgroup as soon as it is empty, which can happen while Kill waits
// for it to empty: a cgroup gone afterwards is killed.
func (m *Manager) Kill() error {
	fs, err := m.FS()
	if err != nil {
		return err
	}
	if err := fs.Kill(); err != nil && fs.Exists() {
		return err
	}
	return nil
}

// Destroy kills what is left in the cgroup, stops the unit and removes the
// cgroup if systemd has not. A unit that is already gone (systemd stops a
// scope by itself when its last process exits) is not an error.
func (m *Manager) Destroy() error {
	var errs []error
	fs, fsErr := m.FS()
	if fsErr == nil && fs.Exists() {
		// Stopping the unit would SIGTERM first and wait up to the stop
		// timeout (90s) for a container init that ignores SIGTERM.
		if err := m.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	conn, err := m.connect(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	defer conn.Close()
	if err := stopUnit(ctx, conn, m.Unit.Name); err != nil {
		errs = append(errs, err)
	}
	if fsErr == nil {
		if err := fs.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unitProperties are the properties of the unit itself. A scope is
// delegated, so that the cgroup below it, its interface files and the
// device program are the container's to manage.
func unitProperties(u Unit, description string, pid int) []sddbus.Property {
	props := []sddbus.Property{sddbus.PropDescription(description)}
	if u.IsSlice() {
		// A slice cannot be placed by Slice=; a weak dependency on the
		// parent orders it.
		props = append(props, sddbus.PropWants(u.Slice))
	} else {
		props = append(props,
			sddbus.PropSlice(u.Slice),
			newProp("Delegate", true),
			sddbus.PropPids(uint32(pid)),
		)
	}
	return append(props,
		// No dependency on sysinit.target or shutdown.target: the unit
		// must start at once and be stopped only by barco.
		newProp("DefaultDependencies", false),
		// Accounting enables the controllers in the unit's cgroup even
		// when no limit is set, so that Stats and a later Update find
		// their files.
		newProp("MemoryAccounting", true),
		newProp("CPUAccounting", true),
		newProp("IOAccounting", true),
		newProp("TasksAccounting", true),
	)
}

// checkMember makes sure pid is in the cgroup path: the whole point of
// Apply, and what the caller relies on before letting the container run.
func checkMember(pid int, path string) error {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return fmt.Errorf("check cgroup of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			if p != path {
				return fmt.Errorf("pid %d is in cgroup %s, not in %s", pid, p, path)
			}
			return nil
		}
	}
	return fmt.Errorf("pid %d has no cgroup v2 entry", pid)
}

// checkEnabled reports the controllers r needs that the unit's cgroup does
// not have. systemd enables in a delegated scope only the controllers it
// knows (cpu, cpuset, io, memory, pids); hugetlb, rdma and misc must have
// been enabled by the host above it.
func checkEnabled(dir string, r *specs.LinuxResources) error {
	need, err := cgroups.RequiredControllers(r)
	if err != nil || len(need) == 0 {
		return err
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read controllers of %s: %w", dir, err)
	}
	have := strings.Fields(string(data))
	var missing []string
	for _, c := range need {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cgroup %s lacks the controllers %s that linux.resources needs (systemd did not delegate them)",
			dir, strings.Join(missing, ", "))
	}
	return nil
}

// checkMemoryUsage refuses, when memory.checkBeforeUpdate asks for it, a
// memory limit below the current usage.
func checkMemoryUsage(dir string, r *specs.LinuxResources) error {
	if r == nil || r.Memory == nil || !deref(r.Memory.CheckBeforeUpdate) || deref(r.Memory.Limit) <= 0 {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(dir, "memory.current"))
	if err != nil {
		return fmt.Errorf("linux.resources.memory.checkBeforeUpdate: %w", err)
	}
	cur, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return fmt.Errorf("linux.resources.memory.checkBeforeUpdate: memory.current: %w", err)
	}
	if uint64(*r.Memory.Limit) < cur {
		return fmt.Errorf("linux.resources.memory.limit: %d is below the current usage %d", *r.Memory.Limit, cur)
	}
	return nil
}
