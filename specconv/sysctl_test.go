package specconv

import (
	"strings"
	"testing"

	"github.com/barco-oci/barco/libbarco/configs"
)

func TestCheckSysctl(t *testing.T) {
	all := []configs.Namespace{{Type: configs.NEWIPC}, {Type: configs.NEWNET}, {Type: configs.NEWUTS}}
	cases := []struct {
		key     string
		ns      []configs.Namespace
		errPart string
	}{
		{key: "net.ipv4.ip_forward", ns: all},
		{key: "kernel.shmmax", ns: all},
		{key: "fs.mqueue.queues_max", ns: all},
		{key: "kernel.domainname", ns: all},
		{key: "net.ipv4.ip_forward", ns: []configs.Namespace{{Type: configs.NEWNET, Path: "/proc/1/ns/net"}}},
		{key: "net.core.somaxconn", errPart: "own network namespace"},
		{key: "kernel.msgmax", errPart: "own ipc namespace"},
		{key: "vm.swappiness", ns: all, errPart: "not a namespaced sysctl"},
		{key: "kernel.panic", ns: all, errPart: "not a namespaced sysctl"},
		{key: "net/../x", ns: all, errPart: "not a sysctl name"},
		{key: "", ns: all, errPart: "not a sysctl name"},
	}
	for _, c := range cases {
		cfg := &configs.Config{Namespaces: c.ns, Sysctl: map[string]string{c.key: "1"}}
		err := checkSysctl(nil, cfg)
		if c.errPart == "" {
			if err != nil {
				t.Errorf("%q: %v", c.key, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.errPart) || !strings.Contains(err.Error(), `linux.sysctl["`+c.key+`"]`) {
			t.Errorf("%q: err %v, want %q with the field path", c.key, err, c.errPart)
		}
	}
}
