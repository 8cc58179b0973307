// Package nsenter lets a re-executed barco join existing namespaces (and
// enter a pid namespace) before the Go runtime starts; see nsenter.c. The
// binary must import it for its side effect. The parent describes the work
// in the _BARCO_NSENTER environment variable with Spec.Encode.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
extern void barco_nsenter(void);
static void __attribute__((constructor(200))) barco_nsenter_init(void) { barco_nsenter(); }
*/
import "C"

import (
	"strconv"
	"strings"
)

// Env is the environment variable that carries the encoded Spec.
const Env = "_BARCO_NSENTER"

// Spec is what the constructor does, with fds as numbers in the child.
type Spec struct {
	SyncFD int // where errors (and the pid after a fork) are reported
	// Join are namespace fds to setns into, in order. When JoinUser is
	// set the first one is a user namespace.
	Join     []int
	JoinUser bool
	Unshare  uintptr // CLONE_NEW* flags to unshare after joining
	Fork     bool    // fork so that the child is in the (new or joined) pid namespace
}

// Encode renders the spec for Env: space-separated tokens, each a letter
// and a number.
func (s Spec) Encode() string {
	parts := []string{"s" + strconv.Itoa(s.SyncFD)}
	for _, fd := range s.Join {
		parts = append(parts, "j"+strconv.Itoa(fd))
	}
	if s.JoinUser {
		parts = append(parts, "U1")
	}
	if s.Unshare != 0 {
		parts = append(parts, "u"+strconv.FormatUint(uint64(s.Unshare), 10))
	}
	if s.Fork {
		parts = append(parts, "f1")
	}
	return strings.Join(parts, " ")
}
