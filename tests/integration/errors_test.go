package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// expectFailure checks that a command failed, that stderr names the problem
// and that the failure left nothing behind.
func expectFailure(t *testing.T, c *container, res result, id string, msgs ...string) {
	t.Helper()
	if res.Code == 0 {
		t.Fatalf("expected failure\n%s", res)
	}
	for _, m := range msgs {
		if !strings.Contains(res.Stderr, m) {
			t.Errorf("stderr does not contain %q\n%s", m, res)
		}
	}
	assertNothingLeft(t, c.root, id, c.bundle, c.cgroup)
	assertNoStrayChildren(t)
}

func TestUnknownContainer(t *testing.T) {
	for _, args := range [][]string{
		{"state"}, {"start"}, {"kill"}, {"delete"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := newRuntime(t)
			id := uniqueID(t)
			res := r.barco(append(args, id)...)
			if res.Code == 0 {
				t.Fatalf("expected failure\n%s", res)
			}
			assertContains(t, "stderr", res.Stderr, fmt.Sprintf("container %q does not exist", id))
		})
	}
}

// Like runc, a forced delete of a container that does not exist succeeds:
// what the caller asked for, no such container, is already true.
func TestForceDeleteUnknown(t *testing.T) {
	r := newRuntime(t)
	r.mustBarco("delete", "--force", uniqueID(t))
}

func TestDuplicateID(t *testing.T) {
	for _, verb := range []string{"create", "run"} {
		t.Run(verb, func(t *testing.T) {
			r := newRuntime(t)
			first := r.newContainer("sleep", "1000")
			if res := first.create(); res.Code != 0 {
				t.Fatalf("create failed\n%s", res)
			}
			second := r.newContainer("sh", "-c", "echo second > /out/ran")
			out := second.outDir()
			second.save()
			res := r.barco(verb, "--bundle", second.bundle, first.id)
			if res.Code == 0 {
				t.Fatalf("%s with a used id succeeded\n%s", verb, res)
			}
			assertContains(t, "stderr", res.Stderr, fmt.Sprintf("container %q already exists", first.id))
			if _, err := os.Stat(filepath.Join(out, "ran")); err == nil {
				t.Error("the second container ran")
			}
			// The first container is untouched.
			if st := first.state(); st.Status != "created" || st.Bundle != first.bundle {
				t.Errorf("first container after the clash: %+v", st)
			}
			first.mustBarco("delete", "--force", first.id)
			first.assertNothingLeft()
		})
	}
}

func TestInvalidID(t *testing.T) {
	for name, id := range map[string]string{
		"dot-dot":  "../x",
		"slash":    "a/b",
		"empty":    "",
		"too long": strings.Repeat("a", 1025),
	} {
		t.Run(name, func(t *testing.T) {
			c := newRuntime(t).newContainer("true")
			c.id = id
			res := c.create()
			expectFailure(t, c, res, id, "invalid container id")
			if _, err := os.Lstat(filepath.Join(filepath.Dir(c.root), "x")); err == nil {
				t.Error("an id with .. escaped --root")
			}
		})
	}
}

func TestBadBundle(t *testing.T) {
	tests := []struct {
		name string
		// edit breaks the bundle; it returns the substrings stderr must hold.
		edit func(c *container) []string
	}{
		{
			name: "missing bundle",
			edit: func(c *container) []string {
				c.bundle = filepath.Join(c.bundle, "nonexistent")
				return []string{c.bundle, "no such file or directory"}
			},
		},
		{
			name: "invalid JSON",
			edit: func(c *container) []string {
				writeFile(c.t, filepath.Join(c.bundle, "config.json"), "{\"ociVersion\": \"1.2.0\", ")
				return []string{"config.json", "invalid JSON"}
			},
		},
		{
			name: "missing rootfs",
			edit: func(c *container) []string {
				if err := os.RemoveAll(filepath.Join(c.bundle, "rootfs")); err != nil {
					c.t.Fatal(err)
				}
				c.save()
				return []string{"root.path", "no such file or directory"}
			},
		},
		{
			name: "unknown namespace",
			edit: func(c *container) []string {
				n := len(c.spec.Linux.Namespaces)
				c.spec.Linux.Namespaces = append(c.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
				c.save()
				return []string{fmt.Sprintf("linux.namespaces[%d].type", n)}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newRuntime(t).newContainer("true")
			msgs := tc.edit(c)
			res := c.barco("create", "--bundle", c.bundle, c.id)
			expectFailure(t, c, res, c.id, msgs...)
		})
	}
}

func TestMissingExecutable(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msgs []string
	}{
		{"absolute path", []string{"/nonexistent"}, []string{"no such file or directory"}},
		{"not in PATH", []string{"nosuchcmd"}, []string{"executable file not found"}},
	}
	for _, tc := range tests {
		for _, verb := range []string{"create", "run"} {
			t.Run(verb+" "+tc.name, func(t *testing.T) {
				c := newRuntime(t).newContainer(tc.args...)
				if verb == "run" {
					expectFailure(t, c, c.run(), c.id, tc.msgs...)
					return
				}
				// runc fails at create; a runtime that only finds out at
				// start must fail there, and delete --force must clean up.
				res := c.create()
				if res.Code == 0 {
					res = c.barco("start", c.id)
					if res.Code == 0 {
						t.Fatalf("start of %v succeeded\n%s", tc.args, res)
					}
					assertContains(t, "start stderr", res.Stderr, tc.msgs...)
					c.mustBarco("delete", "--force", c.id)
					c.assertNothingLeft()
					assertNoStrayChildren(t)
					return
				}
				expectFailure(t, c, res, c.id, tc.msgs...)
			})
		}
	}
}

func TestDeleteRunning(t *testing.T) {
	c := newRuntime(t).newContainer("sleep", "1000")
	if res := c.run("-d"); res.Code != 0 {
		t.Fatalf("run -d failed\n%s", res)
	}
	res := c.barco("delete", c.id)
	if res.Code == 0 {
		t.Fatalf("delete of a running container succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "not stopped")
	if st := c.state(); st.Status != "running" {
		t.Errorf("status after a refused delete %q, want running", st.Status)
	}
	c.mustBarco("delete", "--force", c.id)
	c.assertNothingLeft()
	assertNoStrayChildren(t)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Global flags with a fixed set of values name the flag and the values.
func TestBadGlobalFlagValues(t *testing.T) {
	r := newRuntime(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--rootless", "maybe", "list"}, `invalid --rootless "maybe": must be true, false or auto`},
		{[]string{"--log-format", "xml", "list"}, `invalid --log-format "xml": must be text or json`},
	} {
		res := r.barco(tt.args...)
		if res.Code == 0 {
			t.Errorf("barco %q succeeded", tt.args)
		}
		assertContains(t, "stderr", res.Stderr, tt.want)
	}
	for _, v := range []string{"true", "false", "auto"} {
		r.mustBarco("--rootless", v, "list")
	}
}
