package seccomp

import (
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SendNotifyFD hands a seccomp listener fd to the agent listening on the
// unix stream socket at listenerPath, as runtime-spec describes: one
// connection, one JSON specs.ContainerProcessState naming the fd
// "seccompFd", the fd itself attached with SCM_RIGHTS to the first
// message. pid is the container process as the runtime sees it. The fd is
// not closed.
func SendNotifyFD(listenerPath, metadata string, fd int, st specs.State, pid int) error {
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      pid,
		Metadata: metadata,
		State:    st,
	})
	if err != nil {
		return fmt.Errorf("seccomp listener %s: encode state: %w", listenerPath, err)
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("seccomp listener %s: socket: %w", listenerPath, err)
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: listenerPath}); err != nil {
		return fmt.Errorf("seccomp listener %s: connect: %w", listenerPath, err)
	}
	n, err := unix.SendmsgN(sock, msg, unix.UnixRights(fd), nil, 0)
	if err != nil {
		return fmt.Errorf("seccomp listener %s: send: %w", listenerPath, err)
	}
	// A stream socket may take less than the whole message; the rest goes
	// without the fd, which the specification allows.
	for rest := msg[n:]; len(rest) > 0; rest = rest[n:] {
		if n, err = unix.Write(sock, rest); err != nil {
			return fmt.Errorf("seccomp listener %s: send: %w", listenerPath, err)
		}
	}
	return nil
}
