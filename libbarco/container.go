package libbarco

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
	"github.com/barco-oci/barco/libbarco/cgroups"
	"github.com/barco-oci/barco/libbarco/cgroups/systemd"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/state"
)

const (
	execFifoName = "exec.fifo"
	configName   = "config.json"
)

// Container is one container known to the runtime.
type Container struct {
	ID string
	rt *Runtime
	h  *state.Handle
	st *state.State

	// Set only in the process that created the container.
	init *spawned
	// Console is the pty master when Create was asked to keep it.
	Console *os.File
	// cfg is the stored config as read or last saved by this process;
	// saved tells which.
	cfg   *configs.Config
	saved bool
}

// Load finds the container id. It is not locked; callers that change it
// call Lock.
func (rt *Runtime) Load(id string) (*Container, error) { return rt.load(id, false) }

// LoadLocked is Load under the container's exclusive lock, taken before the
// state is read, so that it is read once.
func (rt *Runtime) LoadLocked(id string) (*Container, error) { return rt.load(id, true) }

func (rt *Runtime) load(id string, lock bool) (*Container, error) {
	h, err := rt.Store.Open(id)
	if err != nil {
		return nil, err
	}
	if lock {
		if err := h.Lock(); err != nil {
			h.Close()
			return nil, err
		}
	}
	st, err := h.Load()
	if err != nil {
		h.Close()
		return nil, err
	}
	return &Container{ID: id, rt: rt, h: h, st: st}, nil
}

// Close releases the container's handle (and its lock).
func (c *Container) Close() error { return c.h.Close() }

// Lock takes the container's exclusive lock and reloads its state, which
// may have changed while waiting; the stored config is read anew too,
// unless this process saved it.
func (c *Container) Lock() error {
	if err := c.h.Lock(); err != nil {
		return err
	}
	st, err := c.h.Load()
	if err != nil {
		return err
	}
	c.st = st
	if !c.saved {
		c.cfg = nil
	}
	return nil
}

// Pid is the host pid of the container's init (0 before it exists).
func (c *Container) Pid() int { return c.st.Pid }

// Status derives the status from the live process, never from the record
// alone: a dead or reused pid means stopped, a pending exec fifo means
// created, a frozen cgroup means paused.
func (c *Container) Status() string {
	if c.st.Pid == 0 {
		return state.StatusCreating
	}
	if !c.initAlive() {
		return state.StatusStopped
	}
	if c.h.Has(execFifoName) {
		return state.StatusCreated
	}
	if c.frozen() {
		return state.StatusPaused
	}
	return state.StatusRunning
}

// initAlive reports whether the recorded init still runs (not a zombie and
// not another process that got the same pid).
func (c *Container) initAlive() bool {
	start, s, err := state.ProcStat(c.st.Pid)
	if err != nil || start != c.st.PidStartTime {
		return false
	}
	return s != 'Z' && s != 'X'
}

func (c *Container) frozen() bool {
	if c.st.CgroupPath == "" {
		return false
	}
	data, err := sysfile.Read(c.st.CgroupPath + "/cgroup.freeze")
	return err == nil && strings.TrimSpace(string(data)) == "1"
}

// State returns the runc-style state of the container.
func (c *Container) State() state.OCIState { return c.st.OCI(c.Status()) }

// newRecord is the state of a container about to get its init (pid 0
// until it has one).
func newRecord(id string, cfg *configs.Config, cgroupPath string) *state.State {
	owner := ""
	if e := lookupPasswd(uint32(os.Getuid())); e != nil {
		owner = e[0]
	}
	return &state.State{
		OCIVersion:  cfg.OCIVersion,
		ID:          id,
		Bundle:      cfg.Bundle,
		Rootfs:      cfg.Rootfs,
		CgroupPath:  cgroupPath,
		Created:     time.Now().UTC(),
		Owner:       owner,
		Annotations: cfg.Annotations,
	}
}

// saveConfig stores the engine config beside the state, for the commands
// that come later (exec, hooks at delete, update).
func (c *Container) saveConfig(cfg *configs.Config) error {
	data, err := configs.Encode(cfg)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := c.h.WriteFile(configName, data, 0o600); err != nil {
		return err
	}
	// The process that saved it (run, for one) need not read it back.
	c.cfg, c.saved = cfg, true
	return nil
}

// Config returns the engine config the container was created with. The
// file is read once per Container; each caller gets its own copy of the
// top-level struct to change.
func (c *Container) Config() (*configs.Config, error) {
	if c.cfg == nil {
		data, err := c.h.ReadFile(configName)
		if err != nil {
			return nil, err
		}
		var cfg configs.Config
		if err := configs.Decode(data, &cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", c.h.Path(configName), err)
		}
		c.cfg = &cfg
	}
	cfg := *c.cfg
	return &cfg, nil
}

// ProcessConfig returns the process of the config the container was
// created with (the defaults of exec).
func (c *Container) ProcessConfig() (*configs.Process, error) {
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	return &cfg.Process, nil
}

// cgroup returns the manager of the container's cgroup, or nil if it has
// none recorded.
func (c *Container) cgroup() (*cgroups.Manager, error) {
	if c.st.CgroupPath == "" {
		return nil, nil
	}
	mnt, err := cgroups.FindMount()
	if err != nil {
		return nil, err
	}
	rel, ok := strings.CutPrefix(c.st.CgroupPath, mnt)
	if !ok || !strings.HasPrefix(rel, "/") {
		return nil, fmt.Errorf("cgroup %s is not under the cgroup2 mount %s", c.st.CgroupPath, mnt)
	}
	return cgroups.NewManager(mnt, rel), nil
}

// pidfd opens a pidfd for the init and checks, after opening it, that the
// pid still belongs to the init, so the fd cannot refer to a stranger.
func (c *Container) pidfd() (int, error) {
	fd, err := unix.PidfdOpen(c.st.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, ErrNotRunning
		}
		return -1, fmt.Errorf("pidfd_open %d: %w", c.st.Pid, err)
	}
	if !c.initAlive() {
		unix.Close(fd)
		return -1, ErrNotRunning
	}
	return fd, nil
}

// writeFile writes a small control file (cgroup or proc knob) in one write.
func writeFile(path, value string) error {
	return os.WriteFile(path, []byte(value), 0)
}

// Unlock releases the container's lock but keeps the handle open.
func (c *Container) Unlock() error { return c.h.Unlock() }

// specState is the runtime-spec state given to hooks.
func (c *Container) specState(status specs.ContainerState) specs.State {
	return specs.State{
		Version:     c.st.OCIVersion,
		ID:          c.ID,
		Status:      status,
		Pid:         c.st.Pid,
		Bundle:      c.st.Bundle,
		Annotations: c.st.Annotations,
	}
}

// systemdUnit rebuilds the systemd manager of a container created with
// --systemd-cgroup, from its config and the cgroup path systemd gave it.
func (c *Container) systemdUnit() (*systemd.Manager, error) {
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	unit, err := systemd.New(cfg.CgroupsPath, c.ID, c.rt.Rootless)
	if err != nil {
		return nil, err
	}
	unit.Log = c.rt.Log
	if c.st.CgroupPath != "" {
		if rel, ok := strings.CutPrefix(c.st.CgroupPath, unit.Mount); ok {
			unit.Path = rel
		}
	}
	return unit, nil
}
