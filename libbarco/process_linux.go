package libbarco

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
	"github.com/barco-oci/barco/libbarco/caps"
	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/seccomp"
)

// readyProcess is a container process whose credentials and limits are set;
// only the execve is left.
type readyProcess struct {
	path string
	args []string
	env  []string
	// lateSeccomp is loaded right before execve (with no_new_privs set,
	// the filter needs no privilege and should restrict as late as can be).
	lateSeccomp *seccomp.Program
	// notifyFD is the seccomp listener of a filter loaded early, for the
	// parent to hand to the agent; -1 if none.
	notifyFD int
}

func (p *readyProcess) exec() error {
	if p.lateSeccomp != nil {
		if _, err := p.lateSeccomp.Load(); err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
	}
	err := unix.Exec(p.path, p.args, p.env)
	return fmt.Errorf("exec %s: %w", p.path, err)
}

// step is one named part of preparing the container process.
type step struct {
	name string
	run  func() error
}

// processSteps lists, in order, what the init does to process before
// execve. The order keeps the privileges each step needs: OOM score,
// limits, scheduler and the bounding set while still root; then the user
// (with capabilities kept across setuid); then the final capability sets,
// umask and no_new_privs; the binary is looked up last, as the container
// user would see it.
//
// A seccomp filter without no_new_privs needs CAP_SYS_ADMIN, so it is loaded
// before the user changes; so is one with a notify action, whose listener
// fd must reach the parent before it lets go of the init. Otherwise it is
// loaded by readyProcess.exec right before execve, so it filters as little
// of barco's own work as possible.
func processSteps(p *configs.Process, filter *seccomp.Program, ready *readyProcess) []step {
	var sets *caps.Sets
	var steps []step
	add := func(name string, run func() error) { steps = append(steps, step{name, run}) }
	if p.OOMScoreAdj != nil {
		add("oom-score", func() error {
			if err := writeProcFile("/proc/self/oom_score_adj", strconv.Itoa(*p.OOMScoreAdj)); err != nil {
				return fmt.Errorf("process.oomScoreAdj: %w", err)
			}
			return nil
		})
	}
	if len(p.Rlimits) > 0 {
		add("rlimits", func() error {
			for _, rl := range p.Rlimits {
				// syscall.Setrlimit (not prlimit) so the Go runtime forgets
				// the RLIMIT_NOFILE it raised at start-up and does not
				// restore it at exec.
				lim := &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}
				if err := syscall.Setrlimit(rl.Type, lim); err != nil {
					return fmt.Errorf("process.rlimits type %d: %w", rl.Type, err)
				}
			}
			return nil
		})
	}
	add("sched-ioprio-personality", func() error { return applyProcessAttrs(p) })
	if p.Capabilities != nil {
		add("bounding-set", func() error {
			var err error
			if sets, err = caps.Resolve(p.Capabilities, nil); err != nil {
				return err
			}
			return sets.DropBounding()
		})
	}
	add("cwd", func() error {
		if err := unix.Chdir(p.Cwd); err != nil {
			return fmt.Errorf("process.cwd %s: %w", p.Cwd, err)
		}
		// A cwd reached through a leaked fd (/proc/self/fd/N) would lie
		// outside the container's root; the kernel then reports it as
		// unreachable (CVE-2024-21626).
		wd, err := unix.Getwd()
		if err != nil || !strings.HasPrefix(wd, "/") {
			return fmt.Errorf("process.cwd %s: the working directory is outside the container's root", p.Cwd)
		}
		return nil
	})
	add("lsm-labels", func() error { return applyLSMLabels(p) })
	if filter != nil && (!p.NoNewPrivileges || filter.Notify()) {
		add("seccomp", func() error {
			fd, err := filter.Load()
			if err != nil {
				return fmt.Errorf("load seccomp filter: %w", err)
			}
			ready.notifyFD = fd
			return nil
		})
	} else {
		ready.lateSeccomp = filter
	}
	add("user", func() error { return setUser(p) })
	if p.Capabilities != nil {
		add("capabilities", func() error { return sets.Apply() })
	}
	if p.Umask != nil {
		add("umask", func() error { unix.Umask(int(*p.Umask)); return nil })
	}
	if p.NoNewPrivileges {
		add("no-new-privs", func() error {
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				return fmt.Errorf("set no_new_privs: %w", err)
			}
			return nil
		})
	}
	add("lookup", func() error {
		env := withHome(p.Env, p.UID)
		path, err := lookPath(p.Args[0], env)
		if err != nil {
			return err
		}
		ready.path, ready.args, ready.env = path, p.Args, env
		return nil
	})
	return steps
}

// prepareProcess runs processSteps.
func prepareProcess(p *configs.Process, filter *seccomp.Program) (*readyProcess, error) {
	ready := &readyProcess{notifyFD: -1}
	for _, s := range processSteps(p, filter, ready) {
		if err := s.run(); err != nil {
			return nil, err
		}
	}
	return ready, nil
}

// setUser switches the calling thread to the container user. The raw
// syscalls change only this thread, which is the one that execs; the
// capabilities it keeps across the switch are trimmed by caps.Apply.
func setUser(p *configs.Process) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keepcaps: %w", err)
	}
	groups := make([]uint32, len(p.AdditionalGids))
	copy(groups, p.AdditionalGids)
	var gp uintptr
	if len(groups) > 0 {
		gp = uintptr(unsafe.Pointer(&groups[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), gp, 0); e != 0 {
		// setgroups is denied in a user namespace without a gid mapping
		// that allows it; only an explicit group list makes that an error.
		if len(groups) > 0 || e != unix.EPERM {
			return fmt.Errorf("setgroups %v: %w", groups, e)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(p.GID), uintptr(p.GID), uintptr(p.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", p.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(p.UID), uintptr(p.UID), uintptr(p.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", p.UID, e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}
	return nil
}

// withHome adds HOME from the container's /etc/passwd when the process
// environment lacks it, as runc does ("/" when the user has no entry).
func withHome(env []string, uid uint32) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	home := "/"
	if e := lookupPasswd(uid); e != nil && e[5] != "" {
		home = e[5]
	}
	return append(env, "HOME="+home)
}

// lookupPasswd returns the fields of uid's entry in /etc/passwd, or nil.
func lookupPasswd(uid uint32) []string {
	data, err := sysfile.ReadRegular("/etc/passwd")
	if err != nil {
		return nil
	}
	return passwdEntry(string(data), uid)
}

// passwdEntry returns the fields (at least six) of the first line of
// passwd, the content of an /etc/passwd, that names uid; nil if none.
func passwdEntry(passwd string, uid uint32) []string {
	for line := range strings.SplitSeq(passwd, "\n") {
		fields := strings.Split(line, ":")
		if len(fields) < 6 {
			continue
		}
		if id, err := strconv.ParseUint(fields[2], 10, 32); err == nil && uint32(id) == uid {
			return fields
		}
	}
	return nil
}

// lookPath finds the binary as the container's execve would, with the PATH
// of the process environment.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", fmt.Errorf("exec: %q: %w", name, err)
		}
		return name, nil
	}
	pathEnv := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("stat %s: is a directory", p)
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		if errors.Is(err, unix.EACCES) {
			return fmt.Errorf("stat %s: permission denied", p)
		}
		return err
	}
	return nil
}
