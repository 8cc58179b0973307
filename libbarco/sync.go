package libbarco

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/seccomp"
)

// The parent and the init talk over a socketpair, one JSON object per
// message: the parent sends the bootstrap, the init answers with progress
// messages and finally "ready" (it then blocks on the exec fifo) or "error".

// Environment variable that tells a re-executed barco it is an init and on
// which fd its sync socket is.
const envInitSync = "_BARCO_INIT_SYNC"

const (
	msgReady = "ready"
	msgError = "error"
	msgPid   = "pid" // from the nsenter constructor, see nsenter.c
	// The init asks the parent to run the prestart and createRuntime hooks
	// (namespaces exist, nothing is mounted yet); the parent answers
	// msgHooksDone or msgError.
	msgRunHooks  = "run-hooks"
	msgHooksDone = "hooks-done"
	// The init is about to exec the execstub, which reads its plan (raw
	// bytes, see execstub.Plan.Encode) from the socket; the parent writes
	// it and goes on reading messages, now the stub's.
	msgExecStub = "exec-stub"
)

type syncMsg struct {
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
}

// bootstrap is everything the init needs besides its inherited fds.
type bootstrap struct {
	Config       *configs.Config `json:"config"`
	ID           string          `json:"id"`
	NoPivot      bool            `json:"no_pivot,omitempty"`
	NoNewKeyring bool            `json:"no_new_keyring,omitempty"`
	PreserveFDs  int             `json:"preserve_fds,omitempty"`
	FifoFD       int             `json:"fifo_fd"`
	ConsoleFD    int             `json:"console_fd,omitempty"` // -1: no terminal
	// Exec is true for a process joining a running container.
	Exec bool `json:"exec,omitempty"`
	// State is the container's state for the hooks the init runs itself.
	State specs.State `json:"state"`
	// IDMapFDs are user namespace fds of idmapped mounts, by mount index.
	IDMapFDs map[int]int `json:"idmap_fds,omitempty"`
	// Seccomp is the compiled filter of the process, if any.
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
	// SeccompFD receives the filter's listener fd when it notifies.
	SeccompFD int `json:"seccomp_fd"`
	// UnshareCgroupNS: make the cgroup namespace after the runtime hooks
	// point, once the parent has moved the init into its cgroup (systemd).
	UnshareCgroupNS bool `json:"unshare_cgroupns,omitempty"`
	// RuntimeHooks: stop for the runtime's part of the set-up (spawnRequest.runtimeHooks).
	RuntimeHooks bool `json:"runtime_hooks,omitempty"`
	// ExecStubFD, when >= 0, is barco's own binary: once the container is
	// set up, the init asks for the plan (msgExecStub) and execs it as the
	// execstub, which prepares the process and waits for start.
	ExecStubFD int `json:"exec_stub_fd"`
}

// forInit is the bootstrap as sent to the init: without what only the
// parent uses (resources, the seccomp profile, which arrives compiled, and
// the hooks the parent runs). Decoding less JSON is a large part of the
// init's start-up.
func (b bootstrap) forInit() bootstrap {
	cfg := *b.Config
	cfg.Resources = nil
	cfg.Seccomp = nil
	cfg.Annotations = nil
	cfg.Hooks = configs.Hooks{CreateContainer: cfg.Hooks.CreateContainer, StartContainer: cfg.Hooks.StartContainer}
	b.Config = &cfg
	return b
}

type syncPipe struct {
	f   *os.File
	enc *json.Encoder
	dec *json.Decoder
}

func newSyncPipe(f *os.File) *syncPipe {
	return &syncPipe{f: f, enc: json.NewEncoder(f), dec: json.NewDecoder(f)}
}

func (s *syncPipe) send(v any) error {
	if err := s.enc.Encode(v); err != nil {
		return fmt.Errorf("write to sync pipe: %w", err)
	}
	return nil
}

func (s *syncPipe) recv(v any) error {
	if err := s.dec.Decode(v); err != nil {
		return fmt.Errorf("read from sync pipe: %w", err)
	}
	return nil
}

// waitReady reads the init's messages until it is ready or failed. When
// the init asks for the runtime hooks, runHooks runs them; when it hands
// over to the execstub, plan is written for the stub.
func (s *syncPipe) waitReady(runHooks func() error, plan []byte) error {
	for {
		var m syncMsg
		if err := s.recv(&m); err != nil {
			return err
		}
		switch m.Type {
		case msgReady:
			return nil
		case msgError:
			return errors.New(m.Error)
		case msgRunHooks:
			if runHooks == nil {
				return errors.New("init asked for hooks nobody configured")
			}
			if err := runHooks(); err != nil {
				_ = s.send(syncMsg{Type: msgError, Error: err.Error()})
				return err
			}
			if err := s.send(syncMsg{Type: msgHooksDone}); err != nil {
				return err
			}
		case msgExecStub:
			if plan == nil {
				return errors.New("init asked for an exec stub plan nobody made")
			}
			if _, err := s.f.Write(plan); err != nil {
				return fmt.Errorf("write exec stub plan: %w", err)
			}
		default:
			return fmt.Errorf("unexpected message %q from init", m.Type)
		}
	}
}

// askHooks is the init's side of msgRunHooks.
func (s *syncPipe) askHooks() error {
	if err := s.send(syncMsg{Type: msgRunHooks}); err != nil {
		return err
	}
	var m syncMsg
	if err := s.recv(&m); err != nil {
		return err
	}
	switch m.Type {
	case msgHooksDone:
		return nil
	case msgError:
		// The parent reports the hook's error itself.
		return errors.New(m.Error)
	default:
		return fmt.Errorf("unexpected message %q from parent", m.Type)
	}
}

// terminal reports whether the process to start gets a pty.
func (b *bootstrap) terminal() bool {
	return b.Config != nil && b.Config.Process.Terminal
}

// readPid reads the pid the nsenter intermediate reports after its fork.
func (s *syncPipe) readPid() (int, error) {
	var m struct {
		syncMsg
		Pid int `json:"pid"`
	}
	if err := s.recv(&m); err != nil {
		return 0, err
	}
	switch m.Type {
	case msgPid:
		return m.Pid, nil
	case msgError:
		return 0, errors.New(m.Error)
	default:
		return 0, fmt.Errorf("unexpected message %q from nsenter", m.Type)
	}
}
