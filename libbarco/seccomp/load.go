package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxInsns is the kernel's BPF_MAXINSNS.
const maxInsns = 4096

// Load installs the program on the calling thread with
// seccomp(SECCOMP_SET_MODE_FILTER). The caller must hold its OS thread
// (runtime.LockOSThread) until it execs, and must have set no_new_privs or
// hold CAP_SYS_ADMIN.
//
// If the program uses SCMP_ACT_NOTIFY, the filter is installed with
// SECCOMP_FILTER_FLAG_NEW_LISTENER and notifyFD is the listener (the kernel
// opens it close-on-exec); otherwise notifyFD is -1. TSYNC is used only when
// the spec asked for it, together with TSYNC_ESRCH when there is a listener,
// as the kernel requires. WAIT_KILLABLE_RECV is dropped when there is no
// listener: the kernel rejects it without one and it means nothing then.
func (p *Program) Load() (notifyFD int, err error) {
	if len(p.insns) == 0 || len(p.insns) > maxInsns {
		return -1, fmt.Errorf("seccomp: program of %d instructions, want 1-%d", len(p.insns), maxInsns)
	}
	fl := p.flags
	if p.notify {
		fl |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		if fl&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
			fl |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
		}
	} else {
		fl &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	prog := unix.SockFprog{Len: uint16(len(p.insns)), Filter: &p.insns[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(fl), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(p.insns)
	if errno != 0 {
		return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, %#x): %w", fl, errno)
	}
	if p.notify {
		return int(r), nil
	}
	// With TSYNC and no listener, a positive return is the id of a thread
	// that could not be synchronised; nothing was installed.
	if r != 0 {
		return -1, fmt.Errorf("seccomp: TSYNC failed for thread %d", r)
	}
	return -1, nil
}

// SupportedFlags lists the known flags the running kernel accepts.
//
// It asks the kernel with seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL): the
// kernel checks the flags before it reads the program, so a known flag
// fails with EFAULT (the NULL program) and an unknown one with EINVAL.
// Nothing is installed. WAIT_KILLABLE_RECV is only valid with a listener,
// so it is probed together with NEW_LISTENER.
func SupportedFlags() []string {
	var out []string
	for _, f := range flags {
		probe := f.val
		if probe == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
			probe |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		}
		_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(probe), 0)
		if errors.Is(errno, unix.EFAULT) {
			out = append(out, f.name)
		}
	}
	return out
}
