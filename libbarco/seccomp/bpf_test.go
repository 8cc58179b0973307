package seccomp

import (
	"encoding/binary"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// A classic BPF interpreter for the instructions libseccomp emits, so that
// compiled programs can be checked for what they decide without loading
// them into the kernel.

// seccompData builds struct seccomp_data: int nr, u32 arch, u64 ip, u64 args[6].
func seccompData(nr int, arch uint32, args ...uint64) []byte {
	d := make([]byte, 64)
	binary.NativeEndian.PutUint32(d[0:], uint32(int32(nr)))
	binary.NativeEndian.PutUint32(d[4:], arch)
	for i, a := range args {
		binary.NativeEndian.PutUint64(d[16+8*i:], a)
	}
	return d
}

func nativeAuditArch(t *testing.T) uint32 {
	t.Helper()
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64
	}
	t.Skipf("no audit arch known for %s", runtime.GOARCH)
	return 0
}

func runBPF(t *testing.T, prog []unix.SockFilter, data []byte) uint32 {
	t.Helper()
	var a, x uint32
	var mem [16]uint32
	load := func(k uint32) uint32 {
		if int(k)+4 > len(data) {
			t.Fatalf("load at %d outside seccomp_data", k)
		}
		return binary.NativeEndian.Uint32(data[k:])
	}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		src := in.K
		if in.Code&unix.BPF_X != 0 {
			src = x
		}
		switch in.Code & 0x07 {
		case unix.BPF_LD:
			switch in.Code & 0xe0 {
			case unix.BPF_ABS:
				a = load(in.K)
			case unix.BPF_IMM:
				a = in.K
			case unix.BPF_MEM:
				a = mem[in.K&15]
			default:
				t.Fatalf("pc %d: unsupported load %#x", pc, in.Code)
			}
		case unix.BPF_LDX:
			switch in.Code & 0xe0 {
			case unix.BPF_IMM:
				x = in.K
			case unix.BPF_MEM:
				x = mem[in.K&15]
			default:
				t.Fatalf("pc %d: unsupported ldx %#x", pc, in.Code)
			}
		case unix.BPF_ST:
			mem[in.K&15] = a
		case unix.BPF_STX:
			mem[in.K&15] = x
		case unix.BPF_ALU:
			switch in.Code & 0xf0 {
			case unix.BPF_ADD:
				a += src
			case unix.BPF_SUB:
				a -= src
			case unix.BPF_AND:
				a &= src
			case unix.BPF_OR:
				a |= src
			case unix.BPF_XOR:
				a ^= src
			default:
				t.Fatalf("pc %d: unsupported alu %#x", pc, in.Code)
			}
		case unix.BPF_JMP:
			var taken bool
			switch in.Code & 0xf0 {
			case unix.BPF_JA:
				pc += int(in.K)
				continue
			case unix.BPF_JEQ:
				taken = a == src
			case unix.BPF_JGT:
				taken = a > src
			case unix.BPF_JGE:
				taken = a >= src
			case unix.BPF_JSET:
				taken = a&src != 0
			default:
				t.Fatalf("pc %d: unsupported jump %#x", pc, in.Code)
			}
			if taken {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET:
			if in.Code&0x18 == unix.BPF_A {
				return a
			}
			return in.K
		case unix.BPF_MISC:
			if in.Code&0xf8 == unix.BPF_TAX {
				x = a
			} else {
				a = x
			}
		}
	}
	t.Fatal("program ran past its end")
	return 0
}
