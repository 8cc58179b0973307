package criu

import (
	"slices"
	"strings"
	"testing"
)

// hasSeq reports whether args holds want as consecutive elements.
func hasSeq(args, want []string) bool {
	for i := 0; i+len(want) <= len(args); i++ {
		if slices.Equal(args[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

func TestDumpArgs(t *testing.T) {
	base := Common{ImagesDir: "/img", External: []string{"mnt[/out]:/out"}}
	tests := []struct {
		name    string
		opts    DumpOpts
		want    [][]string
		notWant []string
	}{
		{
			name: "dump",
			opts: DumpOpts{Common: base, Pid: 42, FreezeCgroup: "/cg/c1"},
			want: [][]string{
				{"dump", "--tree", "42"},
				{"--images-dir", "/img", "--work-dir", "/img", "--log-file", "dump.log"},
				{"--external", "mnt[/out]:/out"},
				{"--freeze-cgroup", "/cg/c1"},
			},
			notWant: []string{"--leave-running", "--track-mem"},
		},
		{
			name: "leave running in a work dir",
			opts: DumpOpts{Common: Common{ImagesDir: "/img", WorkDir: "/work", TCPEstablished: true, FileLocks: true}, Pid: 1, LeaveRunning: true},
			want: [][]string{{"--work-dir", "/work"}, {"--leave-running"}, {"--tcp-established"}, {"--file-locks"}},
		},
		{
			name:    "pre-dump",
			opts:    DumpOpts{Common: base, Pid: 7, PreDump: true, LeaveRunning: true},
			want:    [][]string{{"pre-dump", "--tree", "7"}, {"--log-file", "pre-dump.log"}, {"--track-mem"}},
			notWant: []string{"--leave-running"},
		},
		{
			name: "dump on a parent",
			opts: DumpOpts{Common: Common{ImagesDir: "/img", ManageCgroupsMode: "ignore"}, Pid: 7, ParentImages: "../pre", AutoDedup: true},
			want: [][]string{{"--track-mem"}, {"--prev-images-dir", "../pre"}, {"--auto-dedup"}, {"--manage-cgroups=ignore"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.opts.Args()
			for _, w := range tt.want {
				if !hasSeq(args, w) {
					t.Errorf("args %q lack %q", args, w)
				}
			}
			for _, n := range tt.notWant {
				if slices.Contains(args, n) {
					t.Errorf("args %q hold %q", args, n)
				}
			}
		})
	}
}

func TestRestoreArgs(t *testing.T) {
	o := RestoreOpts{
		Common:      Common{ImagesDir: "/img", ShellJob: true, External: []string{"mnt[/out]:/host/out"}},
		Root:        "/bundle/rootfs",
		PidFile:     "/run/x/pid",
		InheritFDs:  []InheritFD{{FD: 1, Key: "pipe:[123]"}, {FD: 3, Key: "extRootNetNS"}},
		CgroupRoots: []string{"/barco/c1"},
		EmptyNet:    true,
	}
	args := o.Args()
	for _, w := range [][]string{
		{"restore"},
		{"--log-file", "restore.log"},
		{"--restore-detached", "--restore-sibling"},
		{"--root", "/bundle/rootfs"},
		{"--pidfile", "/run/x/pid"},
		{"--inherit-fd", "fd[1]:pipe:[123]"},
		{"--inherit-fd", "fd[3]:extRootNetNS"},
		{"--cgroup-root", "/barco/c1"},
		{"--external", "mnt[/out]:/host/out"},
		{"--empty-ns", "net"},
		{"--shell-job"},
	} {
		if !hasSeq(args, w) {
			t.Errorf("args %q lack %q", args, w)
		}
	}
	if args[0] != "restore" {
		t.Errorf("args start with %q, want the restore command", args[0])
	}
}

func TestValidateCgroupsMode(t *testing.T) {
	for _, tt := range []struct {
		mode string
		ok   bool
	}{
		{"", true}, {"soft", true}, {"full", true}, {"strict", true}, {"ignore", true},
		{"Soft", false}, {"hard", false}, {"soft,full", false},
	} {
		err := ValidateCgroupsMode(tt.mode)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateCgroupsMode(%q) = %v, want ok=%v", tt.mode, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.mode) {
			t.Errorf("error %q does not name the mode %q", err, tt.mode)
		}
	}
}
