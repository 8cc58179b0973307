package criu

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/barco-oci/barco/libbarco/configs"
)

func TestKeys(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{ExtMountDump("/out", "/out"), "mnt[/out]:/out"},
		{ExtMountRestore("/out", "/tmp/host dir"), "mnt[/out]:/tmp/host dir"},
		{ExtNamespace("net", 4026531840, "extRootNetNS"), "net[4026531840]:extRootNetNS"},
		// criu prints both numbers of these keys in hex.
		{ExtFile(31, 255), "file[1f:ff]"},
		{ExtTTY(0x8800, 0x19), "tty[8800:19]"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestCgroupRoots(t *testing.T) {
	tests := []struct {
		name string
		self string
		want []string
	}{
		{"pure v2", "0::/user.slice/session-1.scope\n", []string{"/barco/c1"}},
		{
			name: "hybrid",
			self: "12:cpu,cpuacct:/user.slice\n3:memory:/\n1:name=systemd:/user.slice/s.scope\n0::/user.slice/s.scope\n",
			want: []string{"cpu,cpuacct:/user.slice", "memory:/", "name=systemd:/user.slice/s.scope", ":/barco/c1"},
		},
		{"garbage lines are skipped", "junk\n\n0::/\n", []string{"/barco/c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CgroupRoots(tt.self, "/barco/c1"); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExternalMounts(t *testing.T) {
	const bind = 0x1000 | 0x4000 // MS_BIND|MS_REC
	tests := []struct {
		name string
		cfg  configs.Config
		want []ExternalMount
	}{
		{
			name: "bind mounts only",
			cfg: configs.Config{Mounts: []configs.Mount{
				{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/out", Source: "/tmp/out", Flags: bind},
				{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
				{Destination: "/etc/hosts", Source: "/etc/hosts", Flags: 0x1000},
			}},
			want: []ExternalMount{
				{Mountpoint: "/out", Cookie: "/out", Source: "/tmp/out"},
				{Mountpoint: "/etc/hosts", Cookie: "/etc/hosts", Source: "/etc/hosts"},
			},
		},
		{
			name: "devices are bound in a user namespace",
			cfg: configs.Config{
				Namespaces: []configs.Namespace{{Type: configs.NEWUSER}},
				Devices:    []configs.Device{{Path: "/dev/fuse"}, {Path: "/dev/null"}},
			},
			want: []ExternalMount{
				{Mountpoint: "/dev/fuse", Cookie: "/dev/fuse", Source: "/dev/fuse"},
				{Mountpoint: "/dev/null", Cookie: "/dev/null", Source: "/dev/null"},
				{Mountpoint: "/dev/zero", Cookie: "/dev/zero", Source: "/dev/zero"},
				{Mountpoint: "/dev/full", Cookie: "/dev/full", Source: "/dev/full"},
				{Mountpoint: "/dev/random", Cookie: "/dev/random", Source: "/dev/random"},
				{Mountpoint: "/dev/urandom", Cookie: "/dev/urandom", Source: "/dev/urandom"},
				{Mountpoint: "/dev/tty", Cookie: "/dev/tty", Source: "/dev/tty"},
			},
		},
		{
			name: "a /dev bound from the host brings its nodes",
			cfg: configs.Config{
				Namespaces: []configs.Namespace{{Type: configs.NEWUSER}},
				Mounts:     []configs.Mount{{Destination: "/dev", Source: "/dev", Flags: bind}},
			},
			want: []ExternalMount{{Mountpoint: "/dev", Cookie: "/dev", Source: "/dev"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExternalMounts(&tt.cfg); !slices.Equal(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLogTail(t *testing.T) {
	var lines []string
	lines = append(lines, "(00.1) Error (criu/mount.c:1): cannot mount /out")
	for i := 0; i < 30; i++ {
		lines = append(lines, "(00.2) unwinding")
	}
	lines = append(lines, "(00.3) Error (criu/cr-restore.c:2): Restoring FAILED.")
	path := filepath.Join(t.TempDir(), "restore.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(LogTail(path, 5), "\n")
	want := []string{
		"(00.1) Error (criu/mount.c:1): cannot mount /out", // the cause, though it scrolled out
		"(00.2) unwinding", "(00.2) unwinding", "(00.2) unwinding", "(00.2) unwinding",
		"(00.3) Error (criu/cr-restore.c:2): Restoring FAILED.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("tail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if LogTail(filepath.Join(t.TempDir(), "missing.log"), 5) != "" {
		t.Error("tail of a missing log is not empty")
	}
}

func TestErrorMessage(t *testing.T) {
	cause := errors.New("exit status 1")
	e := &Error{Op: "dump", LogPath: "/w/dump.log", Tail: "Error (x): boom", Err: cause}
	msg := e.Error()
	for _, s := range []string{"criu dump failed", "exit status 1", "/w/dump.log", "Error (x): boom"} {
		if !strings.Contains(msg, s) {
			t.Errorf("%q lacks %q", msg, s)
		}
	}
	if !errors.Is(e, cause) {
		t.Error("Error does not unwrap to the process error")
	}
}

func TestLookPath(t *testing.T) {
	_, err := LookPath("/nonexistent/criu")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("LookPath of a missing binary: %v, want ErrNotFound", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "criu")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := LookPath(bin); err != nil || got != bin {
		t.Errorf("LookPath(%q) = %q, %v", bin, got, err)
	}
}
