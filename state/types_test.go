package state

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/barco-oci/barco/internal/fill"
)

func TestStateOCI(t *testing.T) {
	st := &State{
		OCIVersion:  "1.3.0",
		ID:          "c1",
		Bundle:      "/b",
		Rootfs:      "/b/rootfs",
		Pid:         321,
		Created:     time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Owner:       "root",
		Annotations: map[string]string{"k": "v"},
	}
	tests := []struct {
		status  string
		wantPid int
	}{
		{StatusCreated, 321},
		{StatusRunning, 321},
		{StatusPaused, 321},
		{StatusStopped, 0},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			got := st.OCI(tt.status)
			want := OCIState{
				OCIVersion: st.OCIVersion, ID: st.ID, Pid: tt.wantPid, Status: tt.status,
				Bundle: st.Bundle, Rootfs: st.Rootfs, Created: st.Created, Owner: st.Owner,
				Annotations: st.Annotations,
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("OCI(%q) = %+v, want %+v", tt.status, got, want)
			}
		})
	}
}

func jsonKeys(t *testing.T, v any) []string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Clients written for runc parse these names; a renamed tag breaks them.
func TestJSONFieldNames(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want []string
	}{
		{
			name: "oci state without annotations",
			v:    OCIState{ID: "x"},
			want: []string{"bundle", "created", "id", "ociVersion", "owner", "pid", "rootfs", "status"},
		},
		{
			name: "oci state with annotations",
			v:    OCIState{Annotations: map[string]string{"a": "b"}},
			want: []string{"annotations", "bundle", "created", "id", "ociVersion", "owner", "pid", "rootfs", "status"},
		},
		{
			name: "stored state",
			v:    State{Paused: true, Annotations: map[string]string{"a": "b"}},
			want: []string{"annotations", "bundle", "cgroup_path", "created", "id", "ociVersion", "owner", "paused", "pid", "pid_start_time", "rootfs"},
		},
		{
			name: "stored state omits empty optional fields",
			v:    State{},
			want: []string{"bundle", "cgroup_path", "created", "id", "ociVersion", "owner", "pid", "pid_start_time", "rootfs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonKeys(t, tt.v); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("keys = %v, want %v", got, tt.want)
			}
		})
	}
}

// The generated codec of state.json knows every field: one added to State
// without a `make generate` would be lost between commands.
func TestStateCodecCoversEveryField(t *testing.T) {
	h, err := newTestStore(t).Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var st State
	fill.Fill(&st)
	st.ID = h.ID
	if err := h.Save(&st); err != nil {
		t.Fatal(err)
	}
	back, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, &st) {
		t.Errorf("fields lost through state.json (run make generate):\n%+v\nwant\n%+v", back, &st)
	}
}
