package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

const (
	suiteModule = "github.com/opencontainers/runtime-tools"
	// suiteVersion is runtime-tools master of March 2026. The module proxy
	// refuses the "@master" query, so the pseudo-version is pinned here;
	// -suite-version picks another one.
	suiteVersion = "v0.9.1-0.20260316125833-8a4db579f5c8"
	// testList names the built programs, one a line. It is written last,
	// so its presence means the cache is complete.
	testList = "tests.txt"
)

// suite is a built copy of the validation suite.
type suite struct {
	// Dir holds runtimetest, the rootfs tarball and one binary per
	// validation program. The programs find the first two by relative
	// path, so they run with Dir as working directory.
	Dir   string
	Tests []string // validation program names, sorted
}

// builder fetches and builds the suite with the go command.
type builder struct {
	goTool string
	log    io.Writer // progress and the go command's output
}

// prepare returns the suite of version, building it under cacheDir unless
// an earlier run already did.
func (b builder) prepare(cacheDir, version string) (suite, error) {
	root := filepath.Join(cacheDir, version)
	s := suite{Dir: filepath.Join(root, "bin")}
	if tests, err := readTestList(s.Dir); err == nil {
		s.Tests = tests
		return s, nil
	}
	fmt.Fprintf(b.log, "building %s@%s into %s\n", suiteModule, version, root)
	modDir, err := b.download(version)
	if err != nil {
		return s, err
	}
	src := filepath.Join(root, "src")
	if err := os.RemoveAll(root); err != nil {
		return s, fmt.Errorf("clean %s: %w", root, err)
	}
	if err := copyModule(modDir, src); err != nil {
		return s, err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return s, fmt.Errorf("create %s: %w", s.Dir, err)
	}
	tarball := rootfsTarball()
	if err := copyFile(filepath.Join(src, tarball), filepath.Join(s.Dir, tarball)); err != nil {
		return s, err
	}
	// runtimetest runs inside the suite's busybox rootfs, which has no C
	// library: it must be static.
	if err := b.goBuild(src, "-tags", "netgo osusergo", "-o", filepath.Join(s.Dir, "runtimetest"), "./cmd/runtimetest"); err != nil {
		return s, err
	}
	if err := b.goBuild(src, "-o", s.Dir+string(filepath.Separator), "./validation/..."); err != nil {
		return s, err
	}
	tests, err := validationPrograms(filepath.Join(src, "validation"), s.Dir)
	if err != nil {
		return s, err
	}
	s.Tests = tests
	list := strings.Join(tests, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(s.Dir, testList), []byte(list), 0o644); err != nil {
		return s, fmt.Errorf("write test list: %w", err)
	}
	return s, nil
}

// rootfsTarball is the name of the rootfs the suite's PrepareBundle
// unpacks; it depends on the architecture the programs are built for.
func rootfsTarball() string {
	return "rootfs-" + runtime.GOARCH + ".tar.gz"
}

// readTestList reads the list a complete build left, and checks that
// every program on it is still there.
func readTestList(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, testList))
	if err != nil {
		return nil, err
	}
	tests := strings.Fields(string(data))
	for _, name := range append([]string{"runtimetest", rootfsTarball()}, tests...) {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("incomplete suite build: %w", err)
		}
	}
	if len(tests) == 0 {
		return nil, errors.New("empty test list")
	}
	return tests, nil
}

// download fetches the module through the module proxy and returns its
// directory in the module cache. It runs outside any module so that no
// go.mod, barco's included, is read or changed.
func (b builder) download(version string) (string, error) {
	tmp, err := os.MkdirTemp("", "conformance-download")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(b.goTool, "mod", "download", "-json", suiteModule+"@"+version)
	cmd.Dir = tmp
	cmd.Env = goEnv("GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v: %s", suiteModule, version, runErr, stderr.String())
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", suiteModule, version, info.Error)
	}
	return info.Dir, nil
}

// goBuild runs "go build" in the copied module. The copy has its own
// go.mod; its vendor/ is left out because the module zip ships only
// vendor/modules.txt, so dependencies come from the module proxy.
func (b builder) goBuild(dir string, args ...string) error {
	cmd := exec.Command(b.goTool, append([]string{"build", "-trimpath"}, args...)...)
	cmd.Dir = dir
	// The copy lives inside barco's work tree: -buildvcs=false keeps the
	// go command from stamping the programs with barco's git state.
	cmd.Env = goEnv("GOFLAGS=-mod=mod -buildvcs=false", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// goEnv is the environment of the go commands: the runner's own, without a
// workspace, with extra settings appended (later entries win).
func goEnv(extra ...string) []string {
	return append(os.Environ(), append([]string{"GOWORK=off"}, extra...)...)
}

// copyModule copies the read-only module cache directory to a writable
// place, leaving out vendor/ and the tarballs of other architectures.
func copyModule(from, to string) error {
	tarball := rootfsTarball()
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if rel == "vendor" {
			return filepath.SkipDir
		}
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case !d.Type().IsRegular():
			return nil
		case strings.HasPrefix(rel, "rootfs-") && rel != tarball:
			return nil
		}
		return copyFile(path, dst)
	})
}

// copyFile copies a regular file, keeping its executable bits and making
// it writable by its owner.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fi.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}

// validationPrograms lists the validation programs: each directory of
// validation/ (but util/, the shared package) for which a binary was built.
func validationPrograms(srcDir, binDir string) ([]string, error) {
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return nil, fmt.Errorf("list validation programs: %w", err)
	}
	var tests []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "util" {
			continue
		}
		if _, err := os.Stat(filepath.Join(binDir, e.Name())); err != nil {
			return nil, fmt.Errorf("validation program %s was not built: %w", e.Name(), err)
		}
		tests = append(tests, e.Name())
	}
	slices.Sort(tests)
	if len(tests) == 0 {
		return nil, fmt.Errorf("no validation programs in %s", srcDir)
	}
	return tests, nil
}
