package cgroups

import (
	"errors"
	"testing"

	"github.com/moby/sys/mountinfo"
)

func TestParseOwnPath(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
		wantErr bool
	}{
		{name: "v2 only", content: "0::/user.slice/user-0.slice/session-1.scope\n", want: "/user.slice/user-0.slice/session-1.scope"},
		{name: "v2 root", content: "0::/\n", want: "/"},
		{
			name: "hybrid",
			content: "12:pids:/user.slice\n4:memory:/process_api/abc\n1:name=systemd:/user.slice/s.scope\n" +
				"0::/user.slice/s.scope\n",
			want: "/user.slice/s.scope",
		},
		{name: "path with colons", content: "0::/a:b:c\n", want: "/a:b:c"},
		{name: "outside the namespace root", content: "0::/../sibling\n", want: "/../sibling"},
		{name: "v1 only", content: "4:memory:/x\n1:name=systemd:/x\n", wantErr: true},
		{name: "v1 line with hierarchy 0 and controllers", content: "0:cpu:/x\n", wantErr: true},
		{name: "empty", content: "", wantErr: true},
		{name: "relative", content: "0::x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOwnPath(tt.content)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseOwnPath() = %q, %v; want error %v", got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseOwnPath() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPickMount(t *testing.T) {
	mounts := func(points ...string) []*mountinfo.Info {
		var out []*mountinfo.Info
		for _, p := range points {
			out = append(out, &mountinfo.Info{Mountpoint: p, FSType: "cgroup2"})
		}
		return out
	}
	tests := []struct {
		name   string
		mounts []*mountinfo.Info
		want   string
	}{
		{name: "hybrid", mounts: mounts("/sys/fs/cgroup/unified"), want: "/sys/fs/cgroup/unified"},
		{name: "prefers /sys/fs/cgroup", mounts: mounts("/mnt/cg", "/sys/fs/cgroup", "/other"), want: "/sys/fs/cgroup"},
		{name: "else the first", mounts: mounts("/mnt/cg", "/other"), want: "/mnt/cg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickMount(tt.mounts)
			if err != nil || got != tt.want {
				t.Errorf("pickMount() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := pickMount(nil); !errors.Is(err, ErrNoCgroup2) {
		t.Errorf("pickMount(nil) error = %v, want ErrNoCgroup2", err)
	}
}
