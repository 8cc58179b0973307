package integration

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		noPID  bool // leave the PID namespace out, so sh is not PID 1
		code   int
		stdout string
		stderr string
	}{
		{name: "echo", args: []string{"sh", "-c", "echo hello"}, code: 0, stdout: "hello\n"},
		{name: "stderr", args: []string{"sh", "-c", "echo oops >&2"}, code: 0, stderr: "oops\n"},
		{name: "exit code", args: []string{"sh", "-c", "exit 3"}, code: 3},
		// PID 1 of a PID namespace ignores signals it has no handler for,
		// even SIGKILL from inside, so these run without one.
		{name: "killed by SIGKILL", args: []string{"sh", "-c", "kill -9 $$"}, noPID: true, code: 128 + 9},
		{name: "killed by SIGTERM", args: []string{"sh", "-c", "kill -TERM $$"}, noPID: true, code: 128 + 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newRuntime(t).newContainer(tc.args...)
			if tc.noPID {
				c.spec.Linux.Namespaces = withoutNamespace(c.spec.Linux.Namespaces, specs.PIDNamespace)
			}
			res := c.run()
			if res.Code != tc.code {
				t.Fatalf("exit code %d, want %d\n%s", res.Code, tc.code, res)
			}
			if res.Stdout != tc.stdout {
				t.Errorf("stdout %q, want %q", res.Stdout, tc.stdout)
			}
			if tc.stderr != "" && !strings.Contains(res.Stderr, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", res.Stderr, tc.stderr)
			}
			// A foreground run deletes the container when it exits.
			if res := c.barco("state", c.id); res.Code == 0 {
				t.Errorf("container still exists after run\n%s", res)
			}
		})
	}
}

func withoutNamespace(nss []specs.LinuxNamespace, typ specs.LinuxNamespaceType) []specs.LinuxNamespace {
	return slices.DeleteFunc(slices.Clone(nss), func(ns specs.LinuxNamespace) bool { return ns.Type == typ })
}

func TestProcessSettings(t *testing.T) {
	umask := uint32(0o077)
	tests := []struct {
		name  string
		edit  func(*specs.Spec)
		args  []string
		want  string   // exact stdout, if set
		parts []string // substrings of stdout otherwise
	}{
		{
			name: "hostname",
			edit: func(s *specs.Spec) { s.Hostname = "testhost" },
			args: []string{"hostname"},
			want: "testhost\n",
		},
		{
			name: "env",
			edit: func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO=bar") },
			args: []string{"sh", "-c", "echo $FOO"},
			want: "bar\n",
		},
		{
			name: "cwd",
			edit: func(s *specs.Spec) { s.Process.Cwd = "/tmp" },
			args: []string{"pwd"},
			want: "/tmp\n",
		},
		{
			name: "user",
			edit: func(s *specs.Spec) {
				s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}
			},
			args:  []string{"id"},
			parts: []string{"uid=1000(test)", "gid=1000(test)", "10(wheel)"},
		},
		{
			name: "user in /proc",
			edit: func(s *specs.Spec) {
				s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}
			},
			args:  []string{"grep", "-E", "^(Uid|Gid|Groups):", "/proc/self/status"},
			parts: []string{"Uid:\t1000\t1000\t1000\t1000", "Gid:\t1000\t1000\t1000\t1000", "Groups:\t10"},
		},
		{
			name: "default umask",
			edit: func(s *specs.Spec) {},
			args: []string{"sh", "-c", "umask"},
			want: "0022\n",
		},
		{
			name: "umask",
			edit: func(s *specs.Spec) { s.Process.User.Umask = &umask },
			args: []string{"sh", "-c", "umask"},
			want: "0077\n",
		},
		{
			name: "no new privileges",
			edit: func(s *specs.Spec) { s.Process.NoNewPrivileges = true },
			args: []string{"grep", "^NoNewPrivs:", "/proc/self/status"},
			want: "NoNewPrivs:\t1\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newRuntime(t).newContainer(tc.args...)
			tc.edit(c.spec)
			out := c.runOK()
			if tc.want != "" && out != tc.want {
				t.Errorf("stdout %q, want %q", out, tc.want)
			}
			assertContains(t, "stdout", out, tc.parts...)
		})
	}
}

func TestPIDNamespace(t *testing.T) {
	// The trailing "true" keeps sh from exec'ing ps in its place.
	c := newRuntime(t).newContainer("sh", "-c", "echo $$; ps -o pid,comm; true")
	out := c.runOK()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || lines[0] != "1" {
		t.Fatalf("the container's shell is not PID 1:\n%s", out)
	}
	// Only the shell and ps itself may be visible: header + 2 lines.
	procs := lines[2:]
	if len(procs) != 2 {
		t.Errorf("ps sees %d processes, want 2 (sh and ps):\n%s", len(procs), out)
	}
	for _, l := range procs {
		f := strings.Fields(l)
		if len(f) != 2 || (f[1] != "sh" && f[1] != "ps") {
			t.Errorf("unexpected process in the container: %q", l)
		}
	}
}

func TestNetworkNamespace(t *testing.T) {
	c := newRuntime(t).newContainer("cat", "/proc/net/dev")
	out := c.runOK()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("unexpected /proc/net/dev:\n%s", out)
	}
	var ifaces []string
	for _, l := range lines[2:] {
		name, _, _ := strings.Cut(strings.TrimSpace(l), ":")
		ifaces = append(ifaces, name)
	}
	if !slices.Equal(ifaces, []string{"lo"}) {
		t.Errorf("interfaces %v, want only lo", ifaces)
	}
}
