// Package configs holds the engine's own container settings: what specconv
// produces from a runtime-spec config.json after validation, and what the
// rest of libbarco consumes. Values here are already checked and converted
// (mount flags parsed, paths made absolute), so the engine never re-validates.
package configs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NamespaceType names a Linux namespace kind as runtime-spec spells it.
type NamespaceType string

// The eight namespace kinds of runtime-spec.
const (
	NEWPID    NamespaceType = "pid"
	NEWNET    NamespaceType = "network"
	NEWNS     NamespaceType = "mount"
	NEWIPC    NamespaceType = "ipc"
	NEWUTS    NamespaceType = "uts"
	NEWUSER   NamespaceType = "user"
	NEWCGROUP NamespaceType = "cgroup"
	NEWTIME   NamespaceType = "time"
)

// AllNamespaces lists every kind barco knows, in the order namespaces are
// joined (user first, so the others are entered with its privileges).
var AllNamespaces = []NamespaceType{NEWUSER, NEWPID, NEWNET, NEWNS, NEWIPC, NEWUTS, NEWCGROUP, NEWTIME}

// Namespace is one namespace of the container: new when Path is empty,
// otherwise joined from the given /proc/PID/ns/* style path.
type Namespace struct {
	Type NamespaceType
	Path string
}

// IDMap is one line of a uid_map or gid_map.
type IDMap struct {
	ContainerID uint32
	HostID      uint32
	Size        uint32
}

// Mount is one filesystem to mount inside the container, with the
// runtime-spec options already split into kernel flags.
type Mount struct {
	Source      string
	Destination string // absolute, inside the rootfs
	Type        string
	Flags       uint64 // MS_* flags for mount(2)
	// ClearFlags are MS_* flags named with a "no" prefix negation (e.g.
	// "dev" after "nodev"); they matter for bind remounts.
	ClearFlags uint64
	// PropagationFlags are applied one by one after the mount (MS_SHARED, ...).
	PropagationFlags []uint64
	// RecAttrSet/RecAttrClr are mount_setattr(2) MOUNT_ATTR_* bits from the
	// recursive options ("rro", "rnosuid", ...).
	RecAttrSet uint64
	RecAttrClr uint64
	Data       string // filesystem-specific options (mode=755, size=...)
	// Extensions that are not kernel flags.
	TmpCopyUp   bool
	UIDMappings []IDMap // idmapped bind mount
	GIDMappings []IDMap
	// IDMapRecursive idmaps the submounts of a recursive bind too ("ridmap").
	IDMapRecursive bool
}

// IsBind reports whether the mount is a bind mount.
func (m *Mount) IsBind() bool { return m.Flags&msBind != 0 }

const msBind = 0x1000 // MS_BIND, kept local so this package stays free of x/sys

// Device is a device node to create in the container's /dev.
type Device struct {
	Path     string // absolute, inside the container
	Type     rune   // 'c', 'b', 'u' or 'p'
	Major    int64
	Minor    int64
	FileMode uint32 // permission bits
	UID      uint32
	GID      uint32
}

// NetDevice is a network device of the runtime's network namespace that
// moves into the container's.
type NetDevice struct {
	HostName string
	Name     string // in the container; "" keeps HostName
}

// Rlimit is one resource limit; Type is the RLIMIT_* number.
type Rlimit struct {
	Type int
	Soft uint64
	Hard uint64
}

// Capabilities are the five capability sets, as validated names without the
// "CAP_" prefix in lower case ("chown", "net_bind_service").
type Capabilities struct {
	Bounding    []string
	Effective   []string
	Inheritable []string
	Permitted   []string
	Ambient     []string
}

// Process is what runs inside the container.
type Process struct {
	Args            []string
	Env             []string
	Cwd             string
	UID             uint32
	GID             uint32
	AdditionalGids  []uint32
	Umask           *uint32
	Terminal        bool
	ConsoleHeight   uint
	ConsoleWidth    uint
	Capabilities    *Capabilities
	Rlimits         []Rlimit
	NoNewPrivileges bool
	OOMScoreAdj     *int
	ApparmorProfile string
	SelinuxLabel    string
	Scheduler       *specs.Scheduler
	IOPriority      *specs.LinuxIOPriority
	Personality     *specs.LinuxPersonality
	// ExecCPUAffinity applies to a process started by exec, not to the
	// container's init.
	ExecCPUAffinity *CPUAffinity
}

// CPUAffinity is process.execCPUAffinity, as CPU numbers.
type CPUAffinity struct {
	// Initial: the CPUs of the runtime's thread that starts the process,
	// up to the process's entry into the container's cgroup.
	Initial []int
	// Final: the CPUs of the process from its entry into the container's
	// cgroup; none leaves the affinity the kernel gives it there.
	Final []int
}

// Hook is one OCI hook.
type Hook struct {
	Path    string
	Args    []string
	Env     []string
	Timeout int // seconds; 0 means none
}

// Hooks groups hooks by lifecycle point.
type Hooks struct {
	Prestart        []Hook
	CreateRuntime   []Hook
	CreateContainer []Hook
	StartContainer  []Hook
	Poststart       []Hook
	Poststop        []Hook
}

// Config is the whole, validated setting of one container. Its stored form
// is JSON (Encode, Decode).
//
//easyjson:json
type Config struct {
	OCIVersion  string
	Bundle      string // absolute path of the bundle directory
	Rootfs      string // absolute path on the host
	Readonly    bool
	Hostname    string
	Domainname  string
	Namespaces  []Namespace
	UIDMappings []IDMap
	GIDMappings []IDMap
	Mounts      []Mount
	// RootPropagation is the MS_* propagation flag for "/" inside the
	// container's mount namespace (MS_SLAVE|MS_REC unless the spec says).
	RootPropagation uint64
	Devices         []Device
	MaskedPaths     []string
	ReadonlyPaths   []string
	Sysctl          map[string]string
	CgroupsPath     string
	Resources       *specs.LinuxResources
	Seccomp         *specs.LinuxSeccomp
	TimeOffsets     map[string]specs.LinuxTimeOffset
	// NetDevices move into the container's network namespace at create,
	// in the order of their host names.
	NetDevices   []NetDevice
	MemoryPolicy *MemoryPolicy
	MountLabel   string
	Process      Process
	Hooks        Hooks
	Annotations  map[string]string
}

// Namespace returns the namespace of the given type and whether the
// container has one of that type.
func (c *Config) Namespace(t NamespaceType) (Namespace, bool) {
	for _, ns := range c.Namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return Namespace{}, false
}

// NewNamespace reports whether the container gets a fresh namespace of type t.
func (c *Config) NewNamespace(t NamespaceType) bool {
	ns, ok := c.Namespace(t)
	return ok && ns.Path == ""
}
