package libbarco

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/barco-oci/barco/libbarco/configs"
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

// waitReady reads the init's messages until it is ready or failed.
func (s *syncPipe) waitReady() error {
	var m syncMsg
	if err := s.recv(&m); err != nil {
		return err
	}
	switch m.Type {
	case msgReady:
		return nil
	case msgError:
		return errors.New(m.Error)
	default:
		return fmt.Errorf("unexpected message %q from init", m.Type)
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
