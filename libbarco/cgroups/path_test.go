package cgroups

import (
	"strings"
	"testing"
)

func TestResolvePath(t *testing.T) {
	tests := []struct {
		name        string
		cgroupsPath string
		id          string
		own         string
		want        string
		wantErr     string // substring of the error; "" means success
	}{
		{name: "absolute", cgroupsPath: "/machine/c1", id: "c1", own: "/user.slice", want: "/machine/c1"},
		{name: "absolute cleaned", cgroupsPath: "//machine/./a/../c1/", own: "/user.slice", want: "/machine/c1"},
		{name: "absolute with colons", cgroupsPath: "/a:b:c", own: "/", want: "/a:b:c"},
		{name: "relative under own", cgroupsPath: "pod/c1", id: "c1", own: "/user.slice/s.scope", want: "/user.slice/s.scope/pod/c1"},
		{name: "relative from root own", cgroupsPath: "pod/c1", own: "/", want: "/pod/c1"},
		{name: "relative climbing but inside", cgroupsPath: "../pod", own: "/user.slice/s.scope", want: "/user.slice/pod"},
		{name: "empty", id: "c1", own: "/user.slice/s.scope", want: "/user.slice/s.scope/barco/c1"},
		{name: "empty from root own", id: "c1", own: "/", want: "/barco/c1"},
		{name: "absolute escaping", cgroupsPath: "/../x", wantErr: `linux.cgroupsPath "/../x" escapes the cgroup root`},
		{name: "absolute escaping later", cgroupsPath: "/a/../../x", own: "/", wantErr: "escapes the cgroup root"},
		{name: "relative escaping", cgroupsPath: "../../x", own: "/user.slice", wantErr: `linux.cgroupsPath "../../x" escapes`},
		{name: "root", cgroupsPath: "/", own: "/", wantErr: "root cgroup"},
		{name: "relative to own root", cgroupsPath: "a/..", own: "/", wantErr: "root cgroup"},
		{name: "systemd", cgroupsPath: "system.slice:barco:c1", wantErr: `linux.cgroupsPath "system.slice:barco:c1": systemd's slice:prefix:name form needs --systemd-cgroup`},
		{name: "own outside namespace root", id: "c1", own: "/../x", wantErr: "outside the cgroup root"},
		{name: "bad id", id: "..", own: "/", wantErr: "cannot name a cgroup"},
		{name: "id with slash", id: "a/b", own: "/", wantErr: "cannot name a cgroup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolvePath(tt.cgroupsPath, tt.id, tt.own)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolvePath() = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ResolvePath() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
