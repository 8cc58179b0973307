package console

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Proxy copies between the caller's terminal (in, out) and the container's
// pty master until the master is closed by the container side. When in is
// a terminal it is put in raw mode; the returned function restores it and
// must be called once the container has exited.
func Proxy(master, in, out *os.File) (done <-chan struct{}, restore func()) {
	restore = func() {}
	if term.IsTerminal(int(in.Fd())) {
		if st, err := term.MakeRaw(int(in.Fd())); err == nil {
			restore = func() { _ = term.Restore(int(in.Fd()), st) }
		}
		ResizeFrom(master, in)
	}
	go func() { _, _ = io.Copy(master, in) }()
	ch := make(chan struct{})
	go func() {
		// Ends with EIO once every slave fd is closed.
		_, _ = io.Copy(out, master)
		close(ch)
	}()
	return ch, restore
}

// ResizeFrom copies the window size of the terminal in to the pty master.
func ResizeFrom(master, in *os.File) {
	w, h, err := term.GetSize(int(in.Fd()))
	if err != nil {
		return
	}
	_ = SetSize(master, uint(h), uint(w))
}
