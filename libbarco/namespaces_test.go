package libbarco

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

func TestCloneFlags(t *testing.T) {
	cfg := &configs.Config{Namespaces: []configs.Namespace{
		{Type: configs.NEWPID}, {Type: configs.NEWNS}, {Type: configs.NEWUSER},
		{Type: configs.NEWCGROUP}, {Type: configs.NEWTIME},
		{Type: configs.NEWNET, Path: "/proc/1/ns/net"},
	}}
	clone, unshare := cloneFlags(cfg)
	wantClone := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWUSER)
	if clone != wantClone {
		t.Errorf("clone flags %#x, want %#x", clone, wantClone)
	}
	if unshare != unix.CLONE_NEWCGROUP {
		t.Errorf("unshare flags %#x, want CLONE_NEWCGROUP", unshare)
	}
}

func TestTimeOffsetsText(t *testing.T) {
	got := timeOffsetsText(map[string]specs.LinuxTimeOffset{
		"monotonic": {Secs: -5, Nanosecs: 10},
		"boottime":  {Secs: 86400},
	})
	want := "boottime 86400 0\nmonotonic -5 10\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
