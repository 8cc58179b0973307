package libbarco

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHomeFromPasswd(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/sh\n" +
		"broken line\n" +
		"test:x:1000:1000::/home/test:/bin/sh\n" +
		"nohome:x:1001:1001::::\n"
	cases := []struct {
		uid  uint32
		want string
	}{
		{0, "/root"},
		{1000, "/home/test"},
		{1001, "/"},
		{4242, "/"},
	}
	for _, c := range cases {
		got := homeFromPasswd(bufio.NewScanner(strings.NewReader(passwd)), c.uid)
		if got != c.want {
			t.Errorf("uid %d: got %q, want %q", c.uid, got, c.want)
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
