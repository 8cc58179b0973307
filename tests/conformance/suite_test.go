package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCopyModule(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "src")
	writeFiles(t, from, map[string]string{
		"go.mod":                      "module x\n",
		"vendor/modules.txt":          "# stripped\n",
		"validation/kill/kill.go":     "package main\n",
		rootfsTarball():               "tarball",
		"rootfs-someotherarch.tar.gz": "other",
	})
	if err := copyModule(from, to); err != nil {
		t.Fatalf("copyModule: %v", err)
	}
	for _, name := range []string{"go.mod", "validation/kill/kill.go", rootfsTarball()} {
		fi, err := os.Stat(filepath.Join(to, name))
		if err != nil {
			t.Errorf("%s not copied: %v", name, err)
			continue
		}
		// The module cache is read-only; the copy must be writable so
		// that go build can add go.sum entries and a rebuild can remove it.
		if fi.Mode().Perm()&0o200 == 0 {
			t.Errorf("%s copied read-only: %v", name, fi.Mode())
		}
	}
	for _, name := range []string{"vendor", "rootfs-someotherarch.tar.gz"} {
		if _, err := os.Stat(filepath.Join(to, name)); !os.IsNotExist(err) {
			t.Errorf("%s should be left out, stat: %v", name, err)
		}
	}
}

func TestValidationProgramsAndTestList(t *testing.T) {
	src, bin := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{
		"util/test.go":     "package util\n",
		"kill/kill.go":     "package main\n",
		"create/create.go": "package main\n",
		"README":           "not a program\n",
	})
	writeFiles(t, bin, map[string]string{"kill": "", "create": "", "runtimetest": "", rootfsTarball(): ""})
	tests, err := validationPrograms(src, bin)
	if err != nil {
		t.Fatalf("validationPrograms: %v", err)
	}
	if want := []string{"create", "kill"}; !reflect.DeepEqual(tests, want) {
		t.Fatalf("validationPrograms = %q, want %q", tests, want)
	}

	if _, err := readTestList(bin); err == nil {
		t.Fatal("readTestList succeeded without a list")
	}
	if err := os.WriteFile(filepath.Join(bin, testList), []byte("create\nkill\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readTestList(bin)
	if err != nil || !reflect.DeepEqual(got, tests) {
		t.Fatalf("readTestList = %q, %v", got, err)
	}
	// A program gone from the cache makes the build incomplete.
	if err := os.Remove(filepath.Join(bin, "kill")); err != nil {
		t.Fatal(err)
	}
	if _, err := readTestList(bin); err == nil {
		t.Fatal("readTestList accepted a cache with a missing program")
	}
}

func TestValidationProgramNotBuilt(t *testing.T) {
	src, bin := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"kill/kill.go": "package main\n"})
	if _, err := validationPrograms(src, bin); err == nil {
		t.Fatal("validationPrograms accepted a program without a binary")
	}
}
