package libbarco

import (
	"errors"
	"fmt"
	"os"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/console"
)

// makeTerminal creates a pty in the devpts of the caller's /dev, sends its
// master to sock and returns the slave; for a container's init (asConsole)
// the slave is also bound over /dev/console.
func makeTerminal(sock *os.File, p *configs.Process, asConsole bool) (*os.File, error) {
	if sock == nil {
		return nil, errors.New("process.terminal is set but there is no console socket")
	}
	master, path, err := console.NewPty()
	if err != nil {
		return nil, err
	}
	defer master.Close()
	slave, err := console.OpenSlave(path, p.ConsoleHeight, p.ConsoleWidth, asConsole)
	if err != nil {
		return nil, err
	}
	if err := console.SendFd(sock, master); err != nil {
		slave.Close()
		return nil, fmt.Errorf("send console: %w", err)
	}
	return slave, nil
}

// setupTerminal creates the pty inside the container, sends its master to
// the console socket at consoleFD (-1: none) and makes the slave our stdio
// and controlling tty.
func setupTerminal(consoleFD int, p *configs.Process, asConsole bool) error {
	sock := os.NewFile(uintptr(consoleFD), "console-socket") // nil for -1
	if sock != nil {
		defer sock.Close()
	}
	slave, err := makeTerminal(sock, p, asConsole)
	if err != nil {
		return err
	}
	defer slave.Close()
	return console.TakeSlave(slave)
}
