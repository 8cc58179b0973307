// Package sigrelay catches the signals a foreground barco (run, exec,
// restore) passes on to the process it waits for.
//
// os/signal could catch them, but on Linux it keeps a thread of its own
// whose signal mask it updates for every signal enabled or disabled, one
// round trip between threads per signal: catching every signal and letting
// go of them again costs several milliseconds of CPU, a sizeable part of a
// whole `run`. Here a C handler, installed with one sigaction per signal,
// writes each signal's number to a pipe that a goroutine reads.
//
// The handlers are process-wide, so one Relay runs at a time.
package sigrelay

/*
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define RELAY_NSIG 65

static int relay_fd = -1;
static struct sigaction relay_saved[RELAY_NSIG];

static void relay_handler(int sig) {
	int saved_errno = errno;
	unsigned char b = (unsigned char)sig;
	// Non-blocking: with the pipe full the signal is dropped.
	if (write(relay_fd, &b, 1) < 0) {
	}
	errno = saved_errno;
}

// relay_install points the signals at relay_handler, keeping the handlers
// they had. SA_ONSTACK: Go threads run signal handlers on their own
// alternate stacks. On failure the signals already changed are put back and
// -errno is returned.
static int relay_install(int fd, const int *sigs, int n) {
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = relay_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	relay_fd = fd;
	for (int i = 0; i < n; i++) {
		if (sigaction(sigs[i], &sa, &relay_saved[sigs[i]]) < 0) {
			int err = errno;
			while (--i >= 0)
				sigaction(sigs[i], &relay_saved[sigs[i]], NULL);
			return -err;
		}
	}
	return 0;
}

// relay_uninstall gives the signals back the handlers they had.
static void relay_uninstall(const int *sigs, int n) {
	for (int i = 0; i < n; i++)
		sigaction(sigs[i], &relay_saved[sigs[i]], NULL);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Relayed lists the signals a Relay catches: those os/signal's Notify
// would deliver, less three the Go runtime keeps for itself (SIGURG for
// preemption, SIGPROF for profiling) or that only concern barco's own
// children (SIGCHLD).
func Relayed() []unix.Signal {
	sigs := []unix.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGABRT, unix.SIGUSR1,
		unix.SIGUSR2, unix.SIGPIPE, unix.SIGALRM, unix.SIGTERM, unix.SIGCONT,
		unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGXCPU, unix.SIGXFSZ,
		unix.SIGVTALRM, unix.SIGWINCH, unix.SIGIO, unix.SIGPWR,
	}
	// The real-time signals above those the C library keeps (32-34).
	for s := unix.Signal(35); s <= 64; s++ {
		sigs = append(sigs, s)
	}
	return sigs
}

// Relay delivers the caught signals on C until Stop.
type Relay struct {
	C <-chan unix.Signal

	sigs []C.int
	r    *os.File
	done chan struct{}
}

var running atomic.Bool

// Start installs the handlers. Until Stop, the signals of Relayed no longer
// reach the Go runtime (nor os/signal).
func Start() (*Relay, error) {
	if !running.CompareAndSwap(false, true) {
		return nil, errors.New("signal relay: already running")
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		running.Store(false)
		return nil, fmt.Errorf("signal relay: pipe: %w", err)
	}
	ch := make(chan unix.Signal, 32)
	r := &Relay{
		C:    ch,
		r:    os.NewFile(uintptr(p[0]), "signal relay"),
		done: make(chan struct{}),
	}
	for _, s := range Relayed() {
		r.sigs = append(r.sigs, C.int(s))
	}
	if rc := C.relay_install(C.int(p[1]), &r.sigs[0], C.int(len(r.sigs))); rc < 0 {
		r.r.Close()
		unix.Close(p[1])
		running.Store(false)
		return nil, fmt.Errorf("signal relay: sigaction: %w", unix.Errno(-rc))
	}
	go r.read(ch)
	return r, nil
}

// read passes the signal numbers from the pipe to ch until the read end is
// closed.
func (r *Relay) read(ch chan<- unix.Signal) {
	defer close(r.done)
	var buf [64]byte
	for {
		n, err := r.r.Read(buf[:])
		for _, b := range buf[:n] {
			select {
			case ch <- unix.Signal(b):
			default:
				// Nobody reading: drop it, as a full os/signal channel does.
			}
		}
		if err != nil {
			return
		}
	}
}

// Stop gives the signals back their previous handlers. The pipe's write
// end stays open (close-on-exec, and a plain number rather than an os.File
// that a finalizer would close) until the process exits: a handler running
// on another thread at this moment may still write to it, and its number
// must not name another file by then.
func (r *Relay) Stop() {
	C.relay_uninstall(&r.sigs[0], C.int(len(r.sigs)))
	r.r.Close()
	<-r.done
	running.Store(false)
}
