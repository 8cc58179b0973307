package libbarco

import (
	"errors"
	"strconv"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/netdev"
)

// moveNetDevices moves linux.netDevices into the network namespace of the
// container process pid.
func moveNetDevices(pid int, devs []configs.NetDevice) error {
	if len(devs) == 0 {
		return nil
	}
	ns, err := openNamespace("/proc/"+strconv.Itoa(pid)+"/ns/net", configs.NEWNET)
	if err != nil {
		return err
	}
	defer ns.Close()
	// The kernel takes a move into the namespace a device is in as done,
	// without renaming it.
	if same, err := sameAsOurs(ns, configs.NEWNET); err != nil {
		return err
	} else if same {
		return errors.New("linux.netDevices: the container's network namespace is the runtime's own")
	}
	moves := make([]netdev.Device, len(devs))
	for i, d := range devs {
		moves[i] = netdev.Device{HostName: d.HostName, Name: d.Name}
	}
	return netdev.MoveAll(moves, int(ns.Fd()))
}
