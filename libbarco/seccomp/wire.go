package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"errors"

	"golang.org/x/sys/unix"
)

// The runtime compiles the filter and hands the program to the init in its
// bootstrap message, so the init never needs libseccomp and a cache hit in
// the runtime saves the whole compilation.

type programJSON struct {
	BPF    []byte `json:"bpf"` // 8 bytes per instruction, little endian
	Flags  uint   `json:"flags,omitempty"`
	Notify bool   `json:"notify,omitempty"`
}

// MarshalJSON encodes the program for the bootstrap message.
func (p *Program) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 8*len(p.insns))
	for i, in := range p.insns {
		b := buf[8*i:]
		binary.LittleEndian.PutUint16(b, in.Code)
		b[2], b[3] = in.Jt, in.Jf
		binary.LittleEndian.PutUint32(b[4:], in.K)
	}
	return json.Marshal(programJSON{BPF: buf, Flags: p.flags, Notify: p.notify})
}

// UnmarshalJSON decodes a program encoded by MarshalJSON.
func (p *Program) UnmarshalJSON(data []byte) error {
	var w programJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if len(w.BPF)%8 != 0 || len(w.BPF) == 0 {
		return errors.New("seccomp program: bad length")
	}
	insns := make([]unix.SockFilter, len(w.BPF)/8)
	for i := range insns {
		b := w.BPF[8*i:]
		insns[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	p.insns, p.flags, p.notify = insns, w.Flags, w.Notify
	return nil
}
