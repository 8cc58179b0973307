package bpf

import "unsafe"

// pointer is a __aligned_u64 field of bpf_attr holding an address. It is
// made of unsafe.Pointers rather than a uint64 so that the garbage collector
// keeps what it points to alive. On 32-bit machines it is two words and the
// address goes in the low half: the first word on little-endian machines,
// the second on big-endian ones.
type pointer struct {
	p [8 / unsafe.Sizeof(uintptr(0))]unsafe.Pointer
}

func newPointer(p unsafe.Pointer) pointer {
	var v pointer
	i := 0
	if bigEndian {
		i = len(v.p) - 1
	}
	v.p[i] = p
	return v
}
