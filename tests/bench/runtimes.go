package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// runtimeUnderTest is one OCI runtime binary with a state directory of its
// own.
type runtimeUnderTest struct {
	name    string
	path    string
	root    string // --root
	version string
}

// argv is a command line of the runtime: global flags, then args.
func (rt *runtimeUnderTest) argv(args ...string) []string {
	return append([]string{rt.path, "--root", rt.root}, args...)
}

// versionOf is the first line of `PATH --version`, plus the commit line when
// there is one (barco's version alone does not say which build it is).
func versionOf(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "unknown"
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	v := lines[0]
	for _, l := range lines[1:] {
		if c, ok := strings.CutPrefix(l, "commit: "); ok {
			v += " (" + c + ")"
			break
		}
	}
	return v
}

// runtimeNames gives each path a short unique name for the table: the
// base name, with a number added when two share it.
func runtimeNames(paths []string) []string {
	names := make([]string, len(paths))
	seen := map[string]int{}
	for i, p := range paths {
		n := filepath.Base(p)
		seen[n]++
		if seen[n] > 1 {
			n = fmt.Sprintf("%s#%d", n, seen[n])
		}
		names[i] = n
	}
	return names
}

// ensureCrun installs Debian's crun when it is missing, as the bench
// promises to measure it.
func ensureCrun(path string, install bool) error {
	if _, err := os.Stat(path); err == nil || !install || path != "/usr/bin/crun" {
		return nil
	}
	fmt.Fprintln(os.Stderr, "bench: crun is missing; apt-get install -y crun")
	cmd := exec.Command("apt-get", "install", "-y", "crun")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get install crun: %w", err)
	}
	return nil
}

// executable reports whether path is an executable file.
func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
