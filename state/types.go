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
