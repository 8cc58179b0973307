package console

import (
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSendRecvFd(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	defer b.Close()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := SendFd(a, w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, err := RecvFd(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name() != w.Name() {
		t.Errorf("name %q does not carry the sender's name", got.Name())
	}
	if _, err := got.Write([]byte("through the passed fd")); err != nil {
		t.Fatal(err)
	}
	got.Close()
	data, err := io.ReadAll(r)
	if err != nil || string(data) != "through the passed fd" {
		t.Fatalf("read %q, %v", data, err)
	}
}

func TestNewPtyAndSize(t *testing.T) {
	master, slave, err := NewPty()
	if err != nil {
		t.Skipf("no pty here: %v", err)
	}
	defer master.Close()
	if !strings.HasPrefix(slave, "/dev/pts/") {
		t.Fatalf("slave path %q", slave)
	}
	if err := SetSize(master, 33, 101); err != nil {
		t.Fatal(err)
	}
	ws, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Row != 33 || ws.Col != 101 {
		t.Fatalf("size %dx%d, want 33x101", ws.Row, ws.Col)
	}
	s, err := os.OpenFile(slave, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := master.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("master read %q, %v", buf, err)
	}
}
