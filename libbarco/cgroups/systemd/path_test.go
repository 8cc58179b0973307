package systemd

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		path, id, defSlice string
		want               Unit
		wantPath           string
	}{
		{"", "c1", SystemSlice, Unit{"system.slice", "barco-c1.scope"}, "/system.slice/barco-c1.scope"},
		{"", "c1", UserSlice, Unit{"user.slice", "barco-c1.scope"}, "/user.slice/barco-c1.scope"},
		{"system.slice:docker:abc", "x", SystemSlice, Unit{"system.slice", "docker-abc.scope"}, "/system.slice/docker-abc.scope"},
		{":crio:abc", "x", SystemSlice, Unit{"system.slice", "crio-abc.scope"}, "/system.slice/crio-abc.scope"},
		{":crio:abc", "x", UserSlice, Unit{"user.slice", "crio-abc.scope"}, "/user.slice/crio-abc.scope"},
		{"machine-a-b.slice:libpod:c", "x", SystemSlice, Unit{"machine-a-b.slice", "libpod-c.scope"},
			"/machine.slice/machine-a.slice/machine-a-b.slice/libpod-c.scope"},
		{"-:p:n", "x", SystemSlice, Unit{"-.slice", "p-n.scope"}, "/p-n.scope"},
		// A name that is a slice is the unit itself; the prefix is ignored.
		{"system.slice:ignored:kube-pod1.slice", "x", SystemSlice, Unit{"system.slice", "kube-pod1.slice"},
			"/kube.slice/kube-pod1.slice"},
		// runc's rule keeps the dash of an empty prefix.
		{"system.slice::n", "x", SystemSlice, Unit{"system.slice", "-n.scope"}, "/system.slice/-n.scope"},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.path, tt.id, tt.defSlice)
		if err != nil {
			t.Errorf("ParsePath(%q, %q): %v", tt.path, tt.id, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParsePath(%q, %q) = %+v, want %+v", tt.path, tt.id, got, tt.want)
		}
		p, err := got.Path()
		if err != nil || p != tt.wantPath {
			t.Errorf("ParsePath(%q).Path() = %q, %v; want %q", tt.path, p, err, tt.wantPath)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct{ path, id, want string }{
		{"", "", "empty container id"},
		{"/sys/fs/cgroup/x", "c", `expects "slice:prefix:name"`},
		{"a:b", "c", `expects "slice:prefix:name"`},
		{"a:b:c:d", "c", `expects "slice:prefix:name"`},
		{"system:p:n", "c", "must end in .slice"},
		{"a--b.slice:p:n", "c", "empty component"},
		{"a/b.slice:p:n", "c", "not allowed"},
		{"system.slice:p:../x", "c", "not allowed"},
		{"system.slice:p:a/b", "c", "not allowed"},
		{"system.slice:p:-.slice", "c", "root slice"},
		{"system.slice:p:" + strings.Repeat("n", 250), "c", "longer than 255"},
	}
	for _, tt := range tests {
		_, err := ParsePath(tt.path, tt.id, SystemSlice)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePath(%q, %q) error = %v, want it to contain %q", tt.path, tt.id, err, tt.want)
		}
	}
}

func TestExpandSlice(t *testing.T) {
	tests := []struct{ slice, want, err string }{
		{"-.slice", "/", ""},
		{"system.slice", "/system.slice", ""},
		{"a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice", ""},
		{"user-1000.slice", "/user.slice/user-1000.slice", ""},
		{".slice", "", "must end in .slice"},
		{"a.scope", "", "must end in .slice"},
		{"-a.slice", "", "empty component"},
		{"a-.slice", "", "empty component"},
		{"a--b.slice", "", "empty component"},
		{"a/b.slice", "", "not allowed"},
	}
	for _, tt := range tests {
		got, err := ExpandSlice(tt.slice)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ExpandSlice(%q) error = %v, want %q", tt.slice, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ExpandSlice(%q) = %q, %v; want %q", tt.slice, got, err, tt.want)
		}
	}
}
