// Package bpf is the small part of eBPF that the cgroup v2 device filter
// needs: encoding a handful of instructions, resolving jump labels, and the
// bpf(2) commands that load a program and attach it to a cgroup.
//
// It exists so that the runtime binary does not link a general eBPF library,
// whose dependencies cost start-up time on every container operation.
package bpf

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Reg is an eBPF register, R0 to R10.
type Reg uint8

// The registers: R0 holds the return value, R1 to R5 the arguments (R1 the
// context), R6 to R9 are callee-saved and R10 is the read-only frame pointer.
const (
	R0 Reg = iota
	R1
	R2
	R3
	R4
	R5
	R6
	R7
	R8
	R9
	R10
)

// InsnSize is the size of an encoded struct bpf_insn.
const InsnSize = 8

// Insn is one struct bpf_insn. A jump may name its target by label instead
// of Off; Builder.Resolve turns the label into the offset.
type Insn struct {
	Code uint8
	Dst  Reg
	Src  Reg
	Off  int16
	Imm  int32

	label string // jump target, resolved into Off
}

// LoadMem32 loads the 32-bit word at src+off into dst, zero-extended.
func LoadMem32(dst, src Reg, off int16) Insn {
	return Insn{Code: unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W, Dst: dst, Src: src, Off: off}
}

// Mov32Imm sets dst to imm; like every 32-bit ALU operation it clears the
// upper half of dst.
func Mov32Imm(dst Reg, imm int32) Insn { return alu32Imm(unix.BPF_MOV, dst, imm) }

// Mov32Reg copies the low 32 bits of src into dst.
func Mov32Reg(dst, src Reg) Insn {
	return Insn{Code: unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X, Dst: dst, Src: src}
}

// And32Imm is dst &= imm on the low 32 bits.
func And32Imm(dst Reg, imm int32) Insn { return alu32Imm(unix.BPF_AND, dst, imm) }

// Rsh32Imm is the logical dst >>= imm on the low 32 bits.
func Rsh32Imm(dst Reg, imm int32) Insn { return alu32Imm(unix.BPF_RSH, dst, imm) }

// Mov64Imm sets dst to imm sign-extended to 64 bits.
func Mov64Imm(dst Reg, imm int32) Insn {
	return Insn{Code: unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K, Dst: dst, Imm: imm}
}

// JNE32Imm jumps to label when the low 32 bits of dst differ from imm. The
// 32-bit (BPF_JMP32) compare matters for values of 2^31 and above, which a
// 64-bit compare with the sign-extended imm would never match.
func JNE32Imm(dst Reg, imm int32, label string) Insn {
	return jmp32Imm(unix.BPF_JNE, dst, imm, label)
}

// JEQ32Imm jumps to label when the low 32 bits of dst equal imm.
func JEQ32Imm(dst Reg, imm int32, label string) Insn {
	return jmp32Imm(unix.BPF_JEQ, dst, imm, label)
}

// Exit returns R0 to the caller of the program.
func Exit() Insn { return Insn{Code: unix.BPF_JMP | unix.BPF_EXIT} }

func alu32Imm(op uint8, dst Reg, imm int32) Insn {
	return Insn{Code: unix.BPF_ALU | op | unix.BPF_K, Dst: dst, Imm: imm}
}

func jmp32Imm(op uint8, dst Reg, imm int32, label string) Insn {
	return Insn{Code: unix.BPF_JMP32 | op | unix.BPF_K, Dst: dst, Imm: imm, label: label}
}

// Builder collects a program's instructions and the labels naming them.
// The zero value is ready to use.
type Builder struct {
	insns  []Insn
	labels map[string]int // label -> index of the instruction it names
	err    error          // first misuse, reported by Resolve
}

// Emit appends instructions.
func (b *Builder) Emit(insns ...Insn) { b.insns = append(b.insns, insns...) }

// Label names the next instruction emitted. Several labels may name the
// same instruction.
func (b *Builder) Label(name string) {
	if b.labels == nil {
		b.labels = make(map[string]int)
	}
	if _, dup := b.labels[name]; dup && b.err == nil {
		b.err = fmt.Errorf("label %q defined twice", name)
	}
	b.labels[name] = len(b.insns)
}

// Resolve sets the offset of every labelled jump and encodes the program
// in the machine's byte order, ready for ProgLoad.
func (b *Builder) Resolve() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	out := make([]byte, 0, len(b.insns)*InsnSize)
	for i, in := range b.insns {
		if in.label != "" {
			target, ok := b.labels[in.label]
			if !ok {
				return nil, fmt.Errorf("instruction %d: jump to unknown label %q", i, in.label)
			}
			if target >= len(b.insns) {
				return nil, fmt.Errorf("instruction %d: label %q names no instruction", i, in.label)
			}
			// Offsets count from the instruction after the jump.
			off := target - (i + 1)
			if off < -1<<15 || off > 1<<15-1 {
				return nil, fmt.Errorf("instruction %d: jump to %q is %d instructions away, more than a 16-bit offset holds", i, in.label, off)
			}
			in.Off = int16(off)
		}
		out = in.append(out)
	}
	return out, nil
}

// bigEndian is whether the machine stores integers big end first; the
// kernel reads instructions in the machine's order, register nibbles
// included.
var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// append encodes the instruction as struct bpf_insn { u8 code; u8 dst_reg:4,
// src_reg:4; s16 off; s32 imm; }. C allocates bit-fields from the low bits
// on little-endian machines and from the high bits on big-endian ones.
func (in Insn) append(buf []byte) []byte {
	regs := uint8(in.Src&0xf)<<4 | uint8(in.Dst&0xf)
	if bigEndian {
		regs = uint8(in.Dst&0xf)<<4 | uint8(in.Src&0xf)
	}
	buf = append(buf, in.Code, regs)
	buf = binary.NativeEndian.AppendUint16(buf, uint16(in.Off))
	return binary.NativeEndian.AppendUint32(buf, uint32(in.Imm))
}
