// Package console handles the container's pseudo-terminal: the init creates
// it inside the container's devpts and hands the master to whoever listens
// on the console socket (containerd, conmon, or barco's own foreground
// proxy) with SCM_RIGHTS, as runc does.
package console

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// NewPty opens a new pseudo-terminal through /dev/ptmx and returns the
// master and the path of its slave.
func NewPty() (*os.File, string, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("get pty number: %w", err)
	}
	slave := "/dev/pts/" + strconv.Itoa(int(n))
	return os.NewFile(uintptr(fd), "ptmx"), slave, nil
}

// SetSize sets the window size of a terminal.
func SetSize(f *os.File, rows, cols uint) error {
	ws := &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}
	return unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, ws)
}

// SendFd sends f over the unix socket sock, named as f.Name().
func SendFd(sock *os.File, f *os.File) error {
	oob := unix.UnixRights(int(f.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte(f.Name()), oob, nil, 0); err != nil {
		return fmt.Errorf("send fd: %w", err)
	}
	return nil
}

// RecvFd receives one fd sent with SendFd.
func RecvFd(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive fd: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("expected one control message, got %d", len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, fmt.Errorf("parse rights: %w", err)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("expected one fd, got %d", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// TakeSlave makes the pty slave the stdio and the controlling terminal of
// the calling process, in a session of its own.
func TakeSlave(slave *os.File) error {
	fd := int(slave.Fd())
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", i, err)
		}
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}

// OpenSlave opens the pty slave at path and sets its size; with asConsole
// it is also bound over /dev/console. The caller, or a process it passes
// the slave to, makes it its terminal.
func OpenSlave(path string, rows, cols uint, asConsole bool) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	slave := os.NewFile(uintptr(fd), path)
	if rows > 0 || cols > 0 {
		ws := &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws); err != nil {
			slave.Close()
			return nil, fmt.Errorf("set console size: %w", err)
		}
	}
	if asConsole {
		if err := bindConsole(path); err != nil {
			slave.Close()
			return nil, err
		}
	}
	return slave, nil
}

func bindConsole(slave string) error {
	// O_EXCL: an existing node is only a mount point, never opened.
	fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RDONLY, 0o600)
	switch {
	case err == nil:
		unix.Close(fd)
	case !errors.Is(err, unix.EEXIST):
		return fmt.Errorf("create /dev/console: %w", err)
	}
	if err := unix.Mount(slave, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s to /dev/console: %w", slave, err)
	}
	return nil
}
