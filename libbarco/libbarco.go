// Package libbarco is barco's container engine: it creates, starts,
// signals and deletes containers described by a configs.Config, keeping
// their records in a state.Store. One file per lifecycle verb; the work
// inside the container (mounts, credentials, execve) is in init_linux.go.
package libbarco

import (
	"errors"
	"log/slog"
	"os"

	"github.com/barco-oci/barco/state"
)

// Errors the CLI maps to runc's messages.
var (
	ErrNotRunning = errors.New("container not running")
	ErrNotStopped = errors.New("container is not stopped")
	ErrNotCreated = errors.New("container is not in created state")
)

// Runtime is the entry point of the engine for one --root.
type Runtime struct {
	Store *state.Store
	Log   *slog.Logger
	// Rootless is set when barco runs without root on the host: user
	// namespace mappings are limited to the user's own ids and a cgroup is
	// used only where one is delegated.
	Rootless bool
	// CgroupOptional is runc's --rootless: whether a container whose
	// cgroup barco may not create runs in barco's own instead (when its
	// config sets no limits). nil leaves it to Rootless.
	CgroupOptional *bool
	// SystemdCgroup makes systemd own new containers' cgroups, as a
	// transient scope unit each (--systemd-cgroup).
	SystemdCgroup bool
}

// New opens (creating if needed) the state root.
func New(root string, log *slog.Logger) (*Runtime, error) {
	st, err := state.NewStore(root)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{Store: st, Log: log, Rootless: os.Geteuid() != 0}, nil
}
