package libbarco

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

// An idmapped mount needs a user namespace that carries its mappings. The
// runtime makes one per distinct mapping with a short-lived child of its
// own binary (see IsUsernsHolder), keeps the namespace fd and passes it to
// the init, which attaches it to the mount with mount_setattr(2).

// envUsernsHolder marks a re-executed barco that only holds a user
// namespace open until its stdin closes.
const envUsernsHolder = "_BARCO_USERNS_HOLDER"

// IsUsernsHolder reports whether this process is such a holder.
func IsUsernsHolder() bool { return os.Getenv(envUsernsHolder) != "" }

// HoldUserns blocks until stdin is closed.
func HoldUserns() {
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			os.Exit(0)
		}
	}
}

// idmapUserns opens a user namespace for each idmapped mount of cfg and
// returns them by mount index; mounts with equal mappings share one.
func idmapUserns(cfg *configs.Config) (map[int]*os.File, error) {
	out := map[int]*os.File{}
	byKey := map[string]*os.File{}
	for i, m := range cfg.Mounts {
		if len(m.UIDMappings) == 0 {
			continue
		}
		key := fmt.Sprint(m.UIDMappings, m.GIDMappings)
		if f, ok := byKey[key]; ok {
			out[i] = f
			continue
		}
		f, err := newUserns(m.UIDMappings, m.GIDMappings, false)
		if err != nil {
			closeUserns(out)
			return nil, fmt.Errorf("mounts[%d]: user namespace for idmapped mount: %w", i, err)
		}
		byKey[key], out[i] = f, f
	}
	return out, nil
}

func closeUserns(fds map[int]*os.File) {
	seen := map[*os.File]bool{}
	for _, f := range fds {
		if !seen[f] {
			f.Close()
			seen[f] = true
		}
	}
}

// newUserns starts a holder in a new user namespace with the mappings,
// opens the namespace and lets the holder go. With viaHelpers the maps are
// written by newuidmap/newgidmap, which may grant an unprivileged user the
// ranges of /etc/subuid and /etc/subgid.
func newUserns(uids, gids []configs.IDMap, viaHelpers bool) (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{envUsernsHolder + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER, Pdeathsig: unix.SIGKILL}
	if !viaHelpers {
		cmd.SysProcAttr.UidMappings = idMaps(uids)
		cmd.SysProcAttr.GidMappings = idMaps(gids)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		stdin.Close()
		return nil, err
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	pid := strconv.Itoa(cmd.Process.Pid)
	if viaHelpers {
		if err := runIDMapHelper("newuidmap", pid, uids); err != nil {
			return nil, err
		}
		if err := runIDMapHelper("newgidmap", pid, gids); err != nil {
			return nil, err
		}
	}
	// Without helpers the maps are written before the child execs, so the
	// namespace is complete once Start returns.
	return os.OpenFile("/proc/"+pid+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

func runIDMapHelper(tool, pid string, maps []configs.IDMap) error {
	args := []string{pid}
	for _, m := range maps {
		args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10), strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", tool, args, err, out)
	}
	return nil
}
