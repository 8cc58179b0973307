package libbarco

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/cgroups"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/state"
)

// ExecOpts are the options of `exec`.
type ExecOpts struct {
	PidFile       string
	ConsoleSocket string
	// KeepConsole: the caller proxies the terminal (foreground exec without
	// --console-socket); the master is in Process.Console.
	KeepConsole  bool
	PreserveFDs  int
	SubCgroup    string // --cgroup: a sub-cgroup of the container's
	IgnorePaused bool
	Stdin        *os.File
	Stdout       *os.File
	Stderr       *os.File
}

// Process is a process started in a running container by Exec.
type Process struct {
	Pid     int
	Console *os.File
	sp      *spawned
}

// Wait waits for the process and returns its exit code (128+signal for a
// signal death). The caller must be a child subreaper when the container
// has its own pid namespace.
func (p *Process) Wait() (int, error) { return p.sp.wait() }

// Signal sends sig to the process.
func (p *Process) Signal(sig unix.Signal) error { return unix.Kill(p.Pid, sig) }

// Exec starts proc inside the running container: in every namespace of its
// init, in its cgroup, with proc's credentials and limits.
func (c *Container) Exec(proc *configs.Process, opts ExecOpts) (*Process, error) {
	switch s := c.Status(); s {
	case state.StatusRunning, state.StatusCreated:
	case state.StatusPaused:
		if !opts.IgnorePaused {
			return nil, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	default:
		return nil, fmt.Errorf("cannot exec in a %s container: %w", s, ErrNotRunning)
	}
	if opts.PreserveFDs < 0 {
		return nil, fmt.Errorf("--preserve-fds %d: must not be negative", opts.PreserveFDs)
	}
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	// Keep the container's view of the world; only the process differs.
	cfg.Process = *proc
	filter, err := c.rt.compileSeccomp(cfg.Seccomp)
	if err != nil {
		return nil, err
	}

	join, err := openNamespaces(c.st.Pid, cfg)
	if err != nil {
		return nil, err
	}
	defer closeNamespaces(join)
	// The namespaces must still be the init's: a pid reused after we
	// opened them would make us join a stranger's.
	if !c.initAlive() {
		return nil, ErrNotRunning
	}
	cgfd, err := c.execCgroupFD(opts.SubCgroup)
	if err != nil {
		return nil, err
	}
	if cgfd >= 0 {
		defer unix.Close(cgfd)
	}
	forkPID := false
	for _, ns := range join {
		forkPID = forkPID || ns.Type == configs.NEWPID
	}
	req := &spawnRequest{
		boot: bootstrap{
			ID:          c.ID,
			Config:      cfg,
			PreserveFDs: opts.PreserveFDs,
			Exec:        true,
			Seccomp:     filter,
			State:       c.specState(specs.StateRunning),
		},
		cgroupFD:      cgfd,
		consoleSocket: opts.ConsoleSocket,
		keepConsole:   opts.KeepConsole,
		stdio:         [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr},
		join:          join,
		fork:          forkPID,
		affinity:      proc.ExecCPUAffinity,
	}
	sp, err := c.rt.spawn(req)
	if err != nil {
		// A dying container takes the half-joined process with it; say so
		// rather than report a broken pipe.
		if !c.initAlive() {
			return nil, fmt.Errorf("container stopped during exec: %w", ErrNotRunning)
		}
		return nil, err
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, sp.pid); err != nil {
			sp.kill()
			return nil, err
		}
	}
	return &Process{Pid: sp.pid, Console: sp.console, sp: sp}, nil
}

// execCgroupFD opens the cgroup an exec'd process goes to: the container's,
// or a sub-cgroup of it given with --cgroup. -1 when the container has no
// cgroup.
func (c *Container) execCgroupFD(sub string) (int, error) {
	cg, err := c.cgroup()
	if err != nil || cg == nil {
		return -1, err
	}
	if sub != "" {
		// runc's form is [controller:]path; on cgroup v2 only the path counts.
		if i := strings.LastIndexByte(sub, ':'); i >= 0 {
			sub = sub[i+1:]
		}
		clean := path.Clean("/" + sub)
		if clean == "/" || strings.Contains(sub, "..") {
			return -1, fmt.Errorf("--cgroup %q: must name a sub-cgroup of the container", sub)
		}
		cg = cgroups.NewManager(cg.Mount, path.Join(cg.Path, clean))
		if !cg.Exists() {
			return -1, fmt.Errorf("--cgroup %q: %s does not exist", sub, cg.Dir())
		}
	}
	return cg.OpenFD()
}
