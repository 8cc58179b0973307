package libbarco

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/seccomp"
)

func TestPasswdEntry(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/sh\n" +
		"broken line\n" +
		"short:x:7:7\n" +
		"test:x:1000:1000::/home/test:/bin/sh\n" +
		"nohome:x:1001:1001::::\n" +
		"again:x:1000:1000::/home/again:/bin/sh"
	cases := []struct {
		uid        uint32
		name, home string
	}{
		{0, "root", "/root"},
		{1000, "test", "/home/test"},
		{1001, "nohome", ""},
	}
	for _, c := range cases {
		e := passwdEntry(passwd, c.uid)
		if e == nil || e[0] != c.name || e[5] != c.home {
			t.Errorf("uid %d: entry %q, want name %q and home %q", c.uid, e, c.name, c.home)
		}
	}
	for _, uid := range []uint32{7, 4242} {
		if e := passwdEntry(passwd, uid); e != nil {
			t.Errorf("uid %d: entry %q, want none", uid, e)
		}
	}
}

func TestWithHomeKeepsExplicitHome(t *testing.T) {
	env := []string{"PATH=/bin", "HOME=/custom"}
	got := withHome(env, 0)
	if len(got) != 2 || got[1] != "HOME=/custom" {
		t.Fatalf("got %v", got)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent:" + dir}
	cases := []struct {
		name, want, errPart string
	}{
		{name: "tool", want: exe},
		{name: exe, want: exe},
		{name: "missing", errPart: `exec: "missing": executable file not found in $PATH`},
		{name: "/nonexistent/x", errPart: "no such file or directory"},
		{name: dir, errPart: "is a directory"},
	}
	if os.Geteuid() != 0 { // root may execute anything with an x bit nowhere
		cases = append(cases, struct{ name, want, errPart string }{name: plain, errPart: "permission denied"})
	}
	for _, c := range cases {
		got, err := lookPath(c.name, env)
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.errPart)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func stepNames(p *configs.Process, filter *seccomp.Program) (names []string, ready *readyProcess) {
	ready = &readyProcess{notifyFD: -1}
	for _, s := range processSteps(p, filter, ready) {
		names = append(names, s.name)
	}
	return names, ready
}

func TestProcessStepOrder(t *testing.T) {
	umask := uint32(0o22)
	adj := 100
	full := &configs.Process{
		Args: []string{"true"}, Cwd: "/", OOMScoreAdj: &adj, Umask: &umask,
		Rlimits:         []configs.Rlimit{{Type: 7, Soft: 1, Hard: 1}},
		Capabilities:    &configs.Capabilities{Bounding: []string{"kill"}},
		NoNewPrivileges: true,
	}
	plain, err := seccomp.Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	notify, err := seccomp.Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/x",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"swapon"}, Action: specs.ActNotify}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	noNNP := *full
	noNNP.NoNewPrivileges = false

	cases := []struct {
		name   string
		p      *configs.Process
		filter *seccomp.Program
		want   string
		late   bool
	}{
		{"no seccomp", full, nil,
			"oom-score rlimits sched-ioprio-personality bounding-set cwd lsm-labels user capabilities umask no-new-privs lookup", false},
		// With no_new_privs the filter is loaded last, right before execve.
		{"seccomp with nnp", full, plain,
			"oom-score rlimits sched-ioprio-personality bounding-set cwd lsm-labels user capabilities umask no-new-privs lookup", true},
		// Without it, loading needs CAP_SYS_ADMIN: before the user changes.
		{"seccomp without nnp", &noNNP, plain,
			"oom-score rlimits sched-ioprio-personality bounding-set cwd lsm-labels seccomp user capabilities umask lookup", false},
		// A listener must reach the parent before the init is let go.
		{"notify with nnp", full, notify,
			"oom-score rlimits sched-ioprio-personality bounding-set cwd lsm-labels seccomp user capabilities umask no-new-privs lookup", false},
		{"minimal", &configs.Process{Args: []string{"true"}, Cwd: "/"}, nil,
			"sched-ioprio-personality cwd lsm-labels user lookup", false},
	}
	for _, c := range cases {
		names, ready := stepNames(c.p, c.filter)
		if got := strings.Join(names, " "); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.name, got, c.want)
		}
		if (ready.lateSeccomp != nil) != c.late {
			t.Errorf("%s: late seccomp %v, want %v", c.name, ready.lateSeccomp != nil, c.late)
		}
	}
}
