package sigrelay

import (
	"os"
	"os/signal"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func expect(t *testing.T, ch <-chan unix.Signal, want unix.Signal) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %v within 5s", want)
	}
}

func TestRelay(t *testing.T) {
	r, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(); err == nil {
		t.Fatal("a second relay started while the first runs")
	}
	// Signals the default disposition would end the process with, and a
	// real-time one.
	for _, s := range []unix.Signal{unix.SIGTERM, unix.SIGUSR1, unix.SIGHUP, unix.Signal(37), unix.SIGWINCH} {
		if err := unix.Kill(os.Getpid(), s); err != nil {
			t.Fatal(err)
		}
		expect(t, r.C, s)
	}
	// To one thread only, as a terminal's SIGWINCH may come.
	if err := unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	expect(t, r.C, unix.SIGUSR2)
	r.Stop()

	// Afterwards the Go runtime gets the signals again.
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGUSR1)
	defer signal.Stop(ch)
	if err := unix.Kill(os.Getpid(), unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGUSR1 did not reach os/signal after Stop")
	}

	// And a new relay can start.
	r2, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(os.Getpid(), unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	expect(t, r2.C, unix.SIGINT)
	r2.Stop()
}

func TestRelayedLeavesTheRuntimesSignals(t *testing.T) {
	sigs := Relayed()
	for _, s := range []unix.Signal{unix.SIGURG, unix.SIGPROF, unix.SIGCHLD, unix.SIGKILL, unix.SIGSTOP,
		unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS, 32, 33, 34} {
		if slices.Contains(sigs, s) {
			t.Errorf("Relayed includes %v", s)
		}
	}
	for _, s := range []unix.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGWINCH, 35, 64} {
		if !slices.Contains(sigs, s) {
			t.Errorf("Relayed lacks %v", s)
		}
	}
}
