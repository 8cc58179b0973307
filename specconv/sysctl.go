package specconv

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
)

// ipcSysctls are the namespaced sysctls of the IPC namespace besides the
// fs.mqueue.* family.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// checkSysctl accepts only sysctls that belong to a namespace the container
// has of its own: anything else would change the host.
func checkSysctl(_ *specs.Spec, c *configs.Config) error {
	for key := range c.Sysctl {
		path := `linux.sysctl["` + key + `"]`
		if key == "" || strings.ContainsAny(key, "/ \x00") || strings.Contains(key, "..") || strings.HasPrefix(key, ".") {
			return fieldErr(path, "not a sysctl name")
		}
		var ns configs.NamespaceType
		switch {
		case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
			ns = configs.NEWIPC
		case strings.HasPrefix(key, "net."):
			ns = configs.NEWNET
		case key == "kernel.hostname" || key == "kernel.domainname":
			ns = configs.NEWUTS
		default:
			return fieldErr(path, "not a namespaced sysctl: setting it would change the host")
		}
		if _, ok := c.Namespace(ns); !ok {
			return fieldErr(path, "requires the container's own %s namespace", ns)
		}
	}
	return nil
}
