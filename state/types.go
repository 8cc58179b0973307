package state

import "time"

// State is what barco persists about one container in state.json. Its
// JSON codec is generated (types_easyjson.go, `make generate`): every
// barco command reads a state, and encoding/json would first build its
// codec by reflection.
//
//easyjson:json
type State struct {
	OCIVersion string `json:"ociVersion"`
	ID         string `json:"id"`
	Bundle     string `json:"bundle"`
	Rootfs     string `json:"rootfs"`
	Pid        int    `json:"pid"`
	// PidStartTime is field 22 of /proc/PID/stat; a live process with the
	// same pid but another start time is not ours (pid reuse).
	PidStartTime uint64            `json:"pid_start_time"`
	CgroupPath   string            `json:"cgroup_path"` // absolute path of the container's cgroup directory
	Created      time.Time         `json:"created"`
	Owner        string            `json:"owner"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Paused       bool              `json:"paused,omitempty"`
	// CgroupDriver is "systemd" when systemd owns the cgroup (a transient
	// unit to stop on delete); empty for barco's own cgroupfs driver.
	CgroupDriver string `json:"cgroup_driver,omitempty"`
	// Stdio is what the init's stdin, stdout and stderr were when it
	// started (none for a terminal). A checkpoint names them to criu from
	// here, not from the fds as they are at that moment: the container may
	// have moved them to other fds by then, or replaced them for a while.
	Stdio []StdioFile `json:"stdio,omitempty"`
}

// StdioFile is one of the init's stdio fds, as checkpoint hands it to criu.
type StdioFile struct {
	FD int `json:"fd"`
	// Key is criu's name for the file ("pipe:[ino]", "file[mnt:ino]",
	// "tty[rdev:dev]"); restore gives the new stdio under it. Empty for
	// what criu restores itself (a socket).
	Key string `json:"key,omitempty"`
	// External: criu cannot dump the file (it lives outside the
	// container) and is told so on dump.
	External bool `json:"external,omitempty"`
}

// Container statuses as runtime-spec names them, plus runc's "paused".
const (
	StatusCreating = "creating"
	StatusCreated  = "created"
	StatusRunning  = "running"
	StatusPaused   = "paused"
	StatusStopped  = "stopped"
)

// OCIState is the output of `barco state ID`: runtime-spec's state plus the
// fields runc adds, in runc's layout so that clients parsing runc (go-runc,
// containerd's shim) read it unchanged.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// OCI returns the state as `barco state` prints it, with the status the
// caller derived from the live process. A stopped container reports pid 0,
// as runc does, so nobody signals a pid that may have been reused.
func (st *State) OCI(status string) OCIState {
	pid := st.Pid
	if status == StatusStopped {
		pid = 0
	}
	return OCIState{
		OCIVersion:  st.OCIVersion,
		ID:          st.ID,
		Pid:         pid,
		Status:      status,
		Bundle:      st.Bundle,
		Rootfs:      st.Rootfs,
		Created:     st.Created,
		Owner:       st.Owner,
		Annotations: st.Annotations,
	}
}
