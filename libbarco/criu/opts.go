package criu

import (
	"fmt"
	"strconv"
)

// Common are the options dump and restore share.
type Common struct {
	ImagesDir string // where the images are written or read
	WorkDir   string // where criu writes its log; the images dir if empty
	// ManageCgroupsMode is criu's --manage-cgroups mode; "" keeps criu's
	// default (soft).
	ManageCgroupsMode string
	TCPEstablished    bool
	ExtUnixSk         bool
	ShellJob          bool
	FileLocks         bool
	// External lists --external resources (mounts, namespaces, files).
	External []string
}

// DumpOpts describe one `criu dump` or `criu pre-dump`.
type DumpOpts struct {
	Common
	Pid          int
	PreDump      bool
	LeaveRunning bool
	// ParentImages is the images dir of a previous pre-dump, relative to
	// ImagesDir or absolute; it turns on memory tracking.
	ParentImages    string
	TCPSkipInFlight bool
	LinkRemap       bool
	AutoDedup       bool
	// FreezeCgroup is the cgroup directory criu freezes while it collects
	// the tree, so no process can fork out of the dump.
	FreezeCgroup string
}

// InheritFD gives the restored tree criu's fd FD in place of the resource
// the image knows as Key (a pipe, an external file or namespace).
type InheritFD struct {
	FD  int    `json:"fd"`
	Key string `json:"key"`
}

// RestoreOpts describe one `criu restore`.
type RestoreOpts struct {
	Common
	// Root is the directory that becomes the root of the restored mount
	// namespace; it must be a mount point.
	Root string
	// PidFile receives the host pid of the restored root task.
	PidFile     string
	InheritFDs  []InheritFD
	CgroupRoots []string // --cgroup-root values, "[controller:]/path"
	EmptyNet    bool
	AutoDedup   bool
	// LSMProfile and LSMMountContext replace the dumped labels.
	LSMProfile      string
	LSMMountContext string
}

// cgroupModes are criu's --manage-cgroups modes.
var cgroupModes = map[string]bool{"none": true, "props": true, "soft": true, "full": true, "strict": true, "ignore": true}

// ValidateCgroupsMode checks a --manage-cgroups-mode value.
func ValidateCgroupsMode(mode string) error {
	if mode != "" && !cgroupModes[mode] {
		return fmt.Errorf("invalid --manage-cgroups-mode %q: must be soft, full, strict, ignore, props or none", mode)
	}
	return nil
}

func (c *Common) workDir() string {
	if c.WorkDir != "" {
		return c.WorkDir
	}
	return c.ImagesDir
}

// common appends the options of both directions. Logging is always at
// level 4: the log is what explains a failure.
func (c *Common) args(out []string, log string) []string {
	out = append(out, "--images-dir", c.ImagesDir, "--work-dir", c.workDir(), "--log-file", log, "-v4")
	if c.ManageCgroupsMode != "" {
		out = append(out, "--manage-cgroups="+c.ManageCgroupsMode)
	}
	if c.TCPEstablished {
		out = append(out, "--tcp-established")
	}
	if c.ExtUnixSk {
		out = append(out, "--ext-unix-sk")
	}
	if c.ShellJob {
		out = append(out, "--shell-job")
	}
	if c.FileLocks {
		out = append(out, "--file-locks")
	}
	for _, e := range c.External {
		out = append(out, "--external", e)
	}
	return out
}

// Op is the criu command these options run.
func (o *DumpOpts) Op() string {
	if o.PreDump {
		return "pre-dump"
	}
	return "dump"
}

// LogName is the name of the log in the work directory.
func (o *DumpOpts) LogName() string {
	if o.PreDump {
		return PreDumpLog
	}
	return DumpLog
}

// Args is the command line after the binary.
func (o *DumpOpts) Args() []string {
	out := o.args([]string{o.Op(), "--tree", strconv.Itoa(o.Pid)}, o.LogName())
	if o.LeaveRunning && !o.PreDump {
		out = append(out, "--leave-running")
	}
	if o.PreDump || o.ParentImages != "" {
		out = append(out, "--track-mem")
	}
	if o.ParentImages != "" {
		out = append(out, "--prev-images-dir", o.ParentImages)
	}
	if o.TCPSkipInFlight {
		out = append(out, "--skip-in-flight")
	}
	if o.LinkRemap {
		out = append(out, "--link-remap")
	}
	if o.AutoDedup {
		out = append(out, "--auto-dedup")
	}
	if o.FreezeCgroup != "" {
		out = append(out, "--freeze-cgroup", o.FreezeCgroup)
	}
	return out
}

// Args is the command line after the binary. The restored root task
// becomes a sibling of criu (a child of the caller) and criu exits once it
// runs, so the caller can wait for the container like for one it spawned.
func (o *RestoreOpts) Args() []string {
	out := o.args([]string{"restore"}, RestoreLog)
	out = append(out, "--restore-detached", "--restore-sibling", "--evasive-devices")
	if o.Root != "" {
		out = append(out, "--root", o.Root)
	}
	if o.PidFile != "" {
		out = append(out, "--pidfile", o.PidFile)
	}
	for _, f := range o.InheritFDs {
		out = append(out, "--inherit-fd", fmt.Sprintf("fd[%d]:%s", f.FD, f.Key))
	}
	for _, r := range o.CgroupRoots {
		out = append(out, "--cgroup-root", r)
	}
	if o.EmptyNet {
		out = append(out, "--empty-ns", "net")
	}
	if o.AutoDedup {
		out = append(out, "--auto-dedup")
	}
	if o.LSMProfile != "" {
		out = append(out, "--lsm-profile", o.LSMProfile)
	}
	if o.LSMMountContext != "" {
		out = append(out, "--lsm-mount-context", o.LSMMountContext)
	}
	return out
}
