package libbarco

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/netdev"
)

// moveNetDevices moves linux.netDevices into the network namespace of the
// container process pid.
func moveNetDevices(pid int, devs []configs.NetDevice) error {
	if len(devs) == 0 {
		return nil
	}
	path := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the container's network namespace: %w", err)
	}
	defer unix.Close(fd)
	moves := make([]netdev.Device, len(devs))
	for i, d := range devs {
		moves[i] = netdev.Device{HostName: d.HostName, Name: d.Name}
	}
	return netdev.MoveAll(moves, fd)
}
