package bpf

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Each attr type below is the part of the kernel's union bpf_attr that one
// command reads, with the fields in the kernel's order and alignment; the
// kernel treats the fields past the size we pass as zero. File descriptors
// the kernel returns are always close-on-exec.

// progLoadAttr is the BPF_PROG_LOAD part, up to expected_attach_type.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              pointer
	license            pointer
	logLevel           uint32
	logSize            uint32
	logBuf             pointer
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// progAttachAttr is the BPF_PROG_ATTACH and BPF_PROG_DETACH part, up to
// attach_flags.
type progAttachAttr struct {
	targetFD    uint32
	attachBPFFD uint32
	attachType  uint32
	attachFlags uint32
}

// progQueryAttr is the BPF_PROG_QUERY part, up to prog_cnt and its padding.
type progQueryAttr struct {
	targetFD    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     pointer
	progCnt     uint32
	_           uint32
}

// getIDAttr is the BPF_PROG_GET_FD_BY_ID part, up to open_flags.
type getIDAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

// infoAttr is the BPF_OBJ_GET_INFO_BY_FD part.
type infoAttr struct {
	bpfFD   uint32
	infoLen uint32
	info    pointer
}

// progInfo is struct bpf_prog_info up to name; the kernel fills no more
// than the length we pass.
type progInfo struct {
	typ             uint32
	id              uint32
	tag             [8]byte
	jitedProgLen    uint32
	xlatedProgLen   uint32
	jitedProgInsns  uint64
	xlatedProgInsns uint64
	loadTime        uint64
	createdByUID    uint32
	nrMapIDs        uint32
	mapIDs          uint64
	name            [unix.BPF_OBJ_NAME_LEN]byte
}

// Sizes the kernel's headers give these parts; a mistake in the layout
// above fails the build here rather than corrupting a syscall.
var (
	_ [72]byte = [unsafe.Sizeof(progLoadAttr{})]byte{}
	_ [16]byte = [unsafe.Sizeof(progAttachAttr{})]byte{}
	_ [32]byte = [unsafe.Sizeof(progQueryAttr{})]byte{}
	_ [12]byte = [unsafe.Sizeof(getIDAttr{})]byte{}
	_ [16]byte = [unsafe.Sizeof(infoAttr{})]byte{}
	_ [80]byte = [unsafe.Sizeof(progInfo{})]byte{}
)

// bpf calls bpf(2) with the attr struct *attr, retrying on EINTR (program
// loads can be interrupted by signals such as the Go runtime's preemption).
// The buffers attr points to stay alive with it: its pointer fields are
// unsafe.Pointers, which the garbage collector follows.
func bpf[T any](cmd int, attr *T) (int, error) {
	for {
		r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
		runtime.KeepAlive(attr)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	}
}

// verifierLogSize bounds the log asked for when a load fails; the device
// program's log is a few kilobytes.
const verifierLogSize = 1 << 20

// ProgLoad loads a program of type progType (unix.BPF_PROG_TYPE_*) made of
// the encoded insns and returns its fd. name (at most 15 characters of
// [A-Za-z0-9_.]) shows up in bpftool and in ProgInfoByFD. When the kernel
// refuses the program, the error includes the verifier's log.
func ProgLoad(progType uint32, insns []byte, license, name string) (int, error) {
	if len(insns) == 0 || len(insns)%InsnSize != 0 {
		return -1, fmt.Errorf("bpf prog load %s: %d bytes is not a whole number of instructions", name, len(insns))
	}
	if len(name) >= unix.BPF_OBJ_NAME_LEN {
		return -1, fmt.Errorf("bpf prog load %s: name longer than %d characters", name, unix.BPF_OBJ_NAME_LEN-1)
	}
	lic := append([]byte(license), 0)
	attr := progLoadAttr{
		progType: progType,
		insnCnt:  uint32(len(insns) / InsnSize),
		insns:    newPointer(unsafe.Pointer(&insns[0])),
		license:  newPointer(unsafe.Pointer(&lic[0])),
	}
	copy(attr.progName[:], name)
	fd, err := bpf(unix.BPF_PROG_LOAD, &attr)
	if err == nil {
		return fd, nil
	}
	// Loading again with a log costs the verifier's time twice, but only
	// on failure, which is a bug in the program rather than a user error.
	log := make([]byte, verifierLogSize)
	attr.logLevel = 1
	attr.logSize = uint32(len(log))
	attr.logBuf = newPointer(unsafe.Pointer(&log[0]))
	fd, logErr := bpf(unix.BPF_PROG_LOAD, &attr)
	if logErr == nil {
		return fd, nil
	}
	if n := bytes.IndexByte(log, 0); n >= 0 {
		log = log[:n]
	}
	if len(bytes.TrimSpace(log)) == 0 {
		return -1, fmt.Errorf("bpf prog load %s: %w", name, err)
	}
	return -1, fmt.Errorf("bpf prog load %s: %w; verifier log:\n%s", name, err, bytes.TrimSpace(log))
}

// ProgAttach attaches the program progFD to the cgroup cgroupFD for
// attachType (unix.BPF_CGROUP_*), with flags such as unix.BPF_F_ALLOW_MULTI.
// The attachment lasts as long as the cgroup, not as long as progFD.
func ProgAttach(cgroupFD, progFD int, attachType, flags uint32) error {
	attr := progAttachAttr{
		targetFD:    uint32(cgroupFD),
		attachBPFFD: uint32(progFD),
		attachType:  attachType,
		attachFlags: flags,
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, &attr); err != nil {
		return fmt.Errorf("bpf prog attach: %w", err)
	}
	return nil
}

// ProgDetach detaches the program progFD from the cgroup cgroupFD.
func ProgDetach(cgroupFD, progFD int, attachType uint32) error {
	attr := progAttachAttr{
		targetFD:    uint32(cgroupFD),
		attachBPFFD: uint32(progFD),
		attachType:  attachType,
	}
	if _, err := bpf(unix.BPF_PROG_DETACH, &attr); err != nil {
		return fmt.Errorf("bpf prog detach: %w", err)
	}
	return nil
}

// ProgQuery returns the ids of the programs attached directly to the cgroup
// cgroupFD for attachType (not those inherited from its ancestors).
func ProgQuery(cgroupFD int, attachType uint32) ([]uint32, error) {
	// Ask for the count, then for the ids; ENOSPC means programs were
	// attached in between, so ask again with the new count.
	var ids []uint32
	for {
		attr := progQueryAttr{
			targetFD:   uint32(cgroupFD),
			attachType: attachType,
			progCnt:    uint32(len(ids)),
		}
		if len(ids) > 0 {
			attr.progIDs = newPointer(unsafe.Pointer(&ids[0]))
		}
		_, err := bpf(unix.BPF_PROG_QUERY, &attr)
		switch {
		case errors.Is(err, unix.ENOSPC) || err == nil && int(attr.progCnt) > len(ids):
			ids = make([]uint32, attr.progCnt)
		case err != nil:
			return nil, fmt.Errorf("bpf prog query: %w", err)
		default:
			return ids[:attr.progCnt], nil
		}
	}
}

// ProgGetFDByID opens the loaded program with the given id. It fails with
// ENOENT once the program is gone.
func ProgGetFDByID(id uint32) (int, error) {
	attr := getIDAttr{id: id}
	fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, &attr)
	if err != nil {
		return -1, fmt.Errorf("bpf prog get fd by id %d: %w", id, err)
	}
	return fd, nil
}

// ProgInfo is what ProgInfoByFD reports about a loaded program.
type ProgInfo struct {
	Type uint32 // unix.BPF_PROG_TYPE_*
	ID   uint32
	Name string
}

// ProgInfoByFD describes the program progFD.
func ProgInfoByFD(progFD int) (ProgInfo, error) {
	var info progInfo
	attr := infoAttr{
		bpfFD:   uint32(progFD),
		infoLen: uint32(unsafe.Sizeof(info)),
		info:    newPointer(unsafe.Pointer(&info)),
	}
	if _, err := bpf(unix.BPF_OBJ_GET_INFO_BY_FD, &attr); err != nil {
		return ProgInfo{}, fmt.Errorf("bpf obj get info by fd %d: %w", progFD, err)
	}
	name := info.name[:]
	if n := bytes.IndexByte(name, 0); n >= 0 {
		name = name[:n]
	}
	return ProgInfo{Type: info.typ, ID: info.id, Name: string(name)}, nil
}
