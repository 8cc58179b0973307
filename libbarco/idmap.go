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
		f, err := newUserns(m.UIDMappings, m.GIDMappings)
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
// opens the namespace and lets the holder go.
func newUserns(uids, gids []configs.IDMap) (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{envUsernsHolder + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: idMaps(uids),
		GidMappings: idMaps(gids),
		Pdeathsig:   unix.SIGKILL,
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		stdin.Close()
		return nil, err
	}
	// The maps are written before the child execs, so the namespace is
	// complete once Start returns.
	f, err := os.OpenFile("/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	stdin.Close()
	_ = cmd.Wait()
	if err != nil {
		return nil, err
	}
	return f, nil
}
