// Package execstub finishes a container process and execs it before the Go
// runtime of a re-executed barco starts (see execstub.c): terminal,
// rlimits, OOM score, capabilities, user, umask, no_new_privs and seccomp,
// then an optional wait for `barco start`, then execve. A Go start-up costs
// hundreds of page faults and a few threads; the stub costs a few dozen
// faults, and a created container waiting in it holds little memory.
//
// The parent encodes a Plan (Encode), starts barco with Env set to the sync
// socket's fd number, and writes the plan to the socket. The stub answers
// with the JSON messages of libbarco's sync protocol ("ready" or "error").
// Only what the stub implements may be planned: libbarco decides which
// processes qualify.
package execstub

/*
#cgo CFLAGS: -Wall -O2
extern void barco_execstub(void);
// After nsenter's constructor (priority 200), which joins the namespaces.
static void __attribute__((constructor(300))) barco_execstub_init(void) { barco_execstub(); }
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/barco-oci/barco/libbarco/caps"
)

// Env is the environment variable that makes a re-executed barco run the
// stub; its value is the sync socket's fd number, followed by "p" when the
// stub must first send the parent a procfs context (fsopen) of its pid
// namespace, as a "proc" message with the fd attached.
const Env = "_BARCO_EXECSTUB"

const planMagic = 0x31545342 // "BST1", little-endian

// Flag bits of the plan; keep in step with execstub.c.
const (
	flagTerminal = 1 << iota
	flagNoNewPrivs
	flagUmask
	flagOOM
	flagCaps
	flagSeccompEarly
	flagWaitFifo
	flagNewSession
	flagTTYFromParent
)

// Rlimit is one process.rlimits entry.
type Rlimit struct {
	Type       uint32
	Soft, Hard uint64
}

// Plan is everything the stub does, in the order it does it.
type Plan struct {
	// Terminal makes a pty in the container, sends its master to
	// ConsoleFD and makes the slave stdio and controlling terminal; else
	// NewSession makes the process a session leader.
	Terminal                 bool
	ConsoleFD                int
	ConsoleRows, ConsoleCols uint16
	NewSession               bool
	// TTYFromParent: the parent sends a pty slave (SCM_RIGHTS, right
	// after the plan) to make the stdio and controlling terminal of a new
	// session.
	TTYFromParent bool
	// FirstClosedFD: fds from here on are closed at execve.
	FirstClosedFD int
	OOMScoreAdj   *int
	Rlimits       []Rlimit
	Caps          *caps.Masks
	Cwd           string
	// SessionKeyring, when set, is the name of a new session keyring to
	// join.
	SessionKeyring string
	// Seccomp is a raw BPF program (struct sock_filter array) loaded with
	// SeccompFlags; before the user changes when SeccompEarly, else right
	// before execve.
	Seccomp      []byte
	SeccompFlags uint
	SeccompEarly bool
	UID, GID     uint32
	Groups       []uint32
	Umask        *uint32
	NoNewPrivs   bool
	// FifoFD, when >= 0, is the exec fifo to open for writing (through
	// /proc/self/fd) after reporting ready: that blocks until `start`.
	FifoFD int
	Args   []string
	Env    []string
}

// Encode lays the plan out as execstub.c reads it: a little-endian u32
// length, then the fields.
func (p *Plan) Encode() ([]byte, error) {
	if len(p.Args) == 0 {
		return nil, errors.New("process.args is empty")
	}
	if len(p.Seccomp)%8 != 0 || len(p.Seccomp)/8 > 4096 {
		return nil, fmt.Errorf("seccomp program of %d bytes", len(p.Seccomp))
	}
	var flags uint32
	set := func(b bool, f uint32) {
		if b {
			flags |= f
		}
	}
	set(p.Terminal, flagTerminal)
	set(p.NoNewPrivs, flagNoNewPrivs)
	set(p.Umask != nil, flagUmask)
	set(p.OOMScoreAdj != nil, flagOOM)
	set(p.Caps != nil, flagCaps)
	set(p.SeccompEarly, flagSeccompEarly)
	set(p.FifoFD >= 0, flagWaitFifo)
	set(p.NewSession, flagNewSession)
	set(p.TTYFromParent, flagTTYFromParent)

	b := make([]byte, 4, 256+len(p.Seccomp))
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	str := func(s string) { u32(uint32(len(s))); b = append(b, s...) }
	fd := func(v int) uint32 {
		if v < 0 {
			return math.MaxUint32
		}
		return uint32(v)
	}
	u32(planMagic)
	u32(flags)
	u32(uint32(p.FirstClosedFD))
	u32(fd(p.ConsoleFD))
	u32(fd(p.FifoFD))
	u32(uint32(p.ConsoleRows))
	u32(uint32(p.ConsoleCols))
	oom := 0
	if p.OOMScoreAdj != nil {
		oom = *p.OOMScoreAdj
	}
	u32(uint32(int32(oom)))
	var umask uint32
	if p.Umask != nil {
		umask = *p.Umask
	}
	u32(umask)
	u32(p.UID)
	u32(p.GID)
	u32(uint32(len(p.Groups)))
	for _, g := range p.Groups {
		u32(g)
	}
	u32(uint32(len(p.Rlimits)))
	c := p.Caps
	if c == nil {
		c = &caps.Masks{}
	}
	u32(uint32(c.LastCap))
	for _, m := range []uint64{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		u64(m)
	}
	for _, rl := range p.Rlimits {
		u32(rl.Type)
		u64(rl.Soft)
		u64(rl.Hard)
	}
	u32(uint32(p.SeccompFlags))
	u32(uint32(len(p.Seccomp) / 8))
	b = append(b, p.Seccomp...)
	str(p.Cwd)
	str(p.SessionKeyring)
	u32(uint32(len(p.Args)))
	for _, a := range p.Args {
		str(a)
	}
	u32(uint32(len(p.Env)))
	for _, e := range p.Env {
		str(e)
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}
