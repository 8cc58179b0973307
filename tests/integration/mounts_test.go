package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestBindMount(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "cat /data/in; echo written > /data/out")
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.bindMount(host, "/data", "rw")
	if out := c.runOK(); out != "from the host\n" {
		t.Errorf("stdout %q, want the host file's content", out)
	}
	if data, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(data) != "written\n" {
		t.Errorf("file written through the bind mount: %q, %v", data, err)
	}
}

func TestReadOnlyBindMount(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "cat /ro/in; touch /ro/new; echo rc=$?")
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("readable\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.bindMount(host, "/ro", "ro")
	res := c.run()
	if res.Code != 0 {
		t.Fatalf("run failed\n%s", res)
	}
	if !strings.HasPrefix(res.Stdout, "readable\n") || strings.Contains(res.Stdout, "rc=0") {
		t.Errorf("read-only bind: stdout %q, want the file read and the write refused", res.Stdout)
	}
	assertContains(t, "stderr", res.Stderr, "Read-only file system")
	if _, err := os.Stat(filepath.Join(host, "new")); err == nil {
		t.Error("the container created a file through a read-only bind mount")
	}
}

func TestTmpfsMount(t *testing.T) {
	// /mnt does not exist in the rootfs: the runtime must create it even
	// though the root is read-only.
	c := newRuntime(t).newContainer("sh", "-c", "grep ' /mnt/tmp ' /proc/mounts; echo data > /mnt/tmp/f && cat /mnt/tmp/f")
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
		Destination: "/mnt/tmp",
		Type:        "tmpfs",
		Source:      "tmpfs",
		Options:     []string{"nosuid", "nodev", "mode=1777", "size=1m"},
	})
	out := c.runOK()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "tmpfs /mnt/tmp tmpfs ") || lines[1] != "data" {
		t.Fatalf("tmpfs at /mnt/tmp: stdout %q", out)
	}
	assertContains(t, "mount options", lines[0], "nosuid", "nodev", "size=1024k")
	if _, err := os.Stat(filepath.Join(c.bundle, "rootfs", "mnt", "tmp", "f")); err == nil {
		t.Error("a file written to the tmpfs landed in the rootfs")
	}
}

func TestReadOnlyRoot(t *testing.T) {
	tests := []struct {
		name     string
		readonly bool
	}{
		{"read-only", true},
		{"writable", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newRuntime(t).newContainer("sh", "-c", "touch /x; echo rc=$?; echo ok > /tmp/y && cat /tmp/y")
			c.spec.Root.Readonly = tc.readonly
			c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
				Destination: "/tmp",
				Type:        "tmpfs",
				Source:      "tmpfs",
				Options:     []string{"nosuid", "nodev", "mode=1777"},
			})
			res := c.run()
			if res.Code != 0 {
				t.Fatalf("run failed\n%s", res)
			}
			wantRC := "rc=0"
			if tc.readonly {
				wantRC = "rc=1"
				assertContains(t, "stderr", res.Stderr, "Read-only file system")
			}
			if want := wantRC + "\nok\n"; res.Stdout != want {
				t.Errorf("stdout %q, want %q", res.Stdout, want)
			}
			_, err := os.Stat(filepath.Join(c.bundle, "rootfs", "x"))
			if created := err == nil; created == tc.readonly {
				t.Errorf("readonly=%v but /x created=%v", tc.readonly, created)
			}
		})
	}
}
