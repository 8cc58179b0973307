package integration

// Regressions for the classes of runtime escapes that hit runc, each played
// as a real attack from inside a container (or from a hostile image or
// caller) that must fail without touching the host.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// writeRefusals are the errors a write to the runtime binary may fail with:
// a read-only view of it, a sealed copy, the binary being executed, or no
// access at all.
var writeRefusals = []string{"Read-only file system", "Text file busy", "Operation not permitted", "Permission denied"}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func assertBinaryUnchanged(t *testing.T, before string) {
	t.Helper()
	if after := fileSHA256(t, env.binary); after != before {
		t.Errorf("CVE-2019-5736: the runtime binary %s was modified from inside a container (sha256 %s, was %s)", env.binary, after, before)
	}
}

func assertRefused(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range writeRefusals {
		if strings.Contains(out, r) {
			return
		}
	}
	t.Errorf("%s: no refusal (%s) in the output:\n%s", what, strings.Join(writeRefusals, ", "), out)
}

// CVE-2019-5736: a created container's pid 1 is the runtime itself, waiting
// for `start`. A process exec'd into the container opens /proc/1/exe for
// writing, and also keeps a read-only fd to it across `start` to write
// through it once the runtime has exec'd the user's program.
func TestCVE2019_5736RuntimeBinaryOfCreatedInit(t *testing.T) {
	before := fileSHA256(t, env.binary)
	c := newRuntime(t).newContainer("sleep", "1000")
	out := c.outDir()
	if res := c.create(); res.Code != 0 {
		t.Fatalf("create failed\n%s", res)
	}
	res := c.barco("exec", c.id, "sh", "-c",
		`tr '\0' ' ' < /proc/1/cmdline; echo; echo x > /proc/1/exe; echo "append=$?"; echo -n > /proc/1/exe; echo "truncate=$?"`)
	if !strings.HasPrefix(res.Stdout, "barco init") {
		t.Fatalf("pid 1 of a created container is not the runtime, the attack has no target\n%s", res)
	}
	for _, attempt := range []string{"append", "truncate"} {
		if !regexp.MustCompile(attempt + `=[1-9]`).MatchString(res.Stdout) {
			t.Errorf("writing /proc/1/exe (%s) succeeded\n%s", attempt, res)
		}
	}
	assertRefused(t, "write to /proc/1/exe", res.Stderr)

	// A failed redirection of `exec` ends a POSIX shell, hence the inner one.
	c.mustBarco("exec", "--detach", c.id, "sh", "-c", `sh -c '
		exec 3< /proc/1/exe
		echo opened > /out/opened
		while grep -q barco /proc/1/cmdline; do sleep 0.05; done
		{ echo x > /proc/self/fd/3; } 2> /out/held-err
		echo "rc=$?" > /out/held' || echo open-refused > /out/opened`)
	opened := waitFile(t, filepath.Join(out, "opened"))
	c.mustBarco("start", c.id)
	if strings.Contains(opened, "open-refused") {
		t.Log("reading /proc/1/exe was refused too; nothing to hold across start")
	} else {
		held := waitFile(t, filepath.Join(out, "held"))
		if strings.TrimSpace(held) == "rc=0" {
			t.Errorf("writing the runtime binary through an fd held across start succeeded")
		}
		errOut, _ := os.ReadFile(filepath.Join(out, "held-err"))
		assertRefused(t, "write through the held fd", string(errOut))
	}
	assertBinaryUnchanged(t, before)
}

// CVE-2019-5736 during exec: the container's init hunts for the runtime
// among its processes (a `barco exec` is briefly the runtime inside the
// container) and tries to overwrite it directly and through an fd kept
// until the exec has finished.
func TestCVE2019_5736RuntimeBinaryDuringExec(t *testing.T) {
	before := fileSHA256(t, env.binary)
	c := newRuntime(t).newContainer("sh", "-c", `
		while :; do
			for f in $(grep -l '^barco' /proc/[0-9]*/cmdline 2>/dev/null); do
				p=${f%/cmdline}
				if { echo x > $p/exe; } 2>> /out/errors; then echo "WROTE $p" >> /out/log; else echo "refused $p" >> /out/log; fi
				# A failed redirection of exec ends the shell: hold the fd in a
				# subshell.
				(
					exec 3< $p/exe || exit
					sleep 0.3
					if { echo x > /proc/self/fd/3; } 2>> /out/errors; then echo "WROTE-HELD $p" >> /out/log; else echo "refused-held $p" >> /out/log; fi
				) 2>> /out/errors
			done
		done`)
	out := c.outDir()
	startSleeper(t, c)
	attempts := 0
	for i := 0; i < 60 && attempts < 3; i++ {
		c.mustBarco("exec", c.id, "true")
		log, _ := os.ReadFile(filepath.Join(out, "log"))
		attempts = strings.Count(string(log), "refused")
	}
	time.Sleep(500 * time.Millisecond) // let a held-fd attempt finish
	log, _ := os.ReadFile(filepath.Join(out, "log"))
	errors, _ := os.ReadFile(filepath.Join(out, "errors"))
	if strings.Contains(string(log), "WROTE") {
		t.Errorf("the container wrote to the runtime binary:\n%s", log)
	}
	if attempts == 0 {
		t.Fatalf("the attacker never saw the runtime inside the container in 60 execs; the race was not run\nlog:\n%s", log)
	}
	t.Logf("%d refused attempts on the runtime during exec", strings.Count(string(log), "refused"))
	assertRefused(t, "writes during exec", string(errors))
	assertBinaryUnchanged(t, before)
}

// CVE-2024-21626: no fd of the runtime may reach the container process; the
// shell's own fds are exactly stdio, for the init and for exec.
func TestCVE2024_21626OnlyStdioFDs(t *testing.T) {
	// ls lists the shell's fds from a child: no pipe (the shell holds its
	// fds while starting a pipeline), and a second command so that the
	// shell does not exec ls in its place.
	const list = `ls /proc/$$/fd; exit 0`
	c := newRuntime(t).newContainer("sh", "-c", list)
	if got := strings.Join(strings.Fields(c.runOK()), " "); got != "0 1 2" {
		t.Errorf("run: the container's init has the fds %q, want only 0 1 2", got)
	}
	s := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, s)
	res := s.mustBarco("exec", s.id, "sh", "-c", list)
	if got := strings.Join(strings.Fields(res.Stdout), " "); got != "0 1 2" {
		t.Errorf("exec: the process has the fds %q, want only 0 1 2", got)
	}
}

// escapeCheck prints whether the working directory is inside the
// container's root: climbing up from inside a root stops at it, from a
// leaked host directory it reaches the host's root.
const escapeCheck = `cd ../../../../../../../../../../.. && if [ "$(stat -c %d:%i .)" = "$(stat -c %d:%i /)" ]; then echo INSIDE; else echo ESCAPED; ls; fi`

// CVE-2024-21626: process.cwd as /proc/self/fd/N must not let the process
// start with a runtime fd's directory (a host path) as its working
// directory, for the init and for exec.
func TestCVE2024_21626CwdThroughFD(t *testing.T) {
	cwds := []string{"/proc/1/root/../../..", "/proc/self/cwd/../.."}
	for n := 3; n <= 20; n++ {
		cwds = append(cwds, "/proc/self/fd/"+strconv.Itoa(n))
	}
	s := newRuntime(t).newContainer("sleep", "1000")
	startSleeper(t, s)
	for _, cwd := range cwds {
		t.Run("run "+cwd, func(t *testing.T) {
			c := newRuntime(t).newContainer("sh", "-c", escapeCheck)
			c.spec.Process.Cwd = cwd
			res := c.run()
			checkNoEscape(t, res)
			if res.Code != 0 {
				assertContains(t, "stderr", res.Stderr, "process.cwd")
			}
		})
		t.Run("exec "+cwd, func(t *testing.T) {
			res := s.barco("exec", "--cwd", cwd, s.id, "sh", "-c", escapeCheck)
			checkNoEscape(t, res)
			if res.Code != 0 {
				assertContains(t, "stderr", res.Stderr, "cwd")
			}
		})
	}
}

func checkNoEscape(t *testing.T, res result) {
	t.Helper()
	switch {
	case strings.Contains(res.Stdout, "ESCAPED"):
		t.Errorf("the working directory is outside the container's root\n%s", res)
	case res.Code == 0 && !strings.Contains(res.Stdout, "INSIDE"):
		t.Errorf("the check did not run\n%s", res)
	}
}

// symlink makes rootfs/name a symlink to target.
func symlink(t *testing.T, c *container, name, target string) {
	t.Helper()
	link := filepath.Join(c.bundle, "rootfs", name)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// hostDir makes a host directory holding one marker file and returns its
// path; dirListing then tells if anything was added to it.
func hostDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "host-marker"), "host")
	return dir
}

func dirListing(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func assertHostDirUntouched(t *testing.T, dir string) {
	t.Helper()
	if got := dirListing(t, dir); strings.Join(got, ",") != ".,host-marker" {
		t.Errorf("host directory %s was changed from the container: %v", dir, got)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "host-marker")); string(data) != "host" {
		t.Errorf("host file %s/host-marker now holds %q", dir, data)
	}
	if mps := mountPointsContaining(dir); len(mps) > 0 {
		t.Errorf("host directory %s is a mount point on the host: %v", dir, mps)
	}
}

// Mount destinations that are symlinks in the image, absolute and relative,
// pointing at a host directory, and a destination below such a link: every
// mount must land inside the rootfs and the host directory stay as it was.
func TestSymlinkMountDestinations(t *testing.T) {
	host := hostDir(t)
	c := newRuntime(t).newContainer("sh", "-c", `
		cut -d' ' -f5 /proc/self/mountinfo
		echo pwned > /abs/pwned; echo pwned > /rel/pwned; echo pwned > /below/sub/pwned
		ls /abs /rel /below/sub`)
	symlink(t, c, "abs", host)
	symlink(t, c, "rel", "../../../../../../../.."+host)
	symlink(t, c, "below", host)
	for _, dst := range []string{"/abs", "/rel", "/below/sub"} {
		c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs"})
	}
	res := c.run()
	if res.Code == 0 {
		// The links were followed as if the rootfs were "/": the mounts
		// are on <rootfs><host>, which the container sees at <host>.
		mounts := strings.Fields(res.Stdout)
		if !slices.Contains(mounts, host) || !slices.Contains(mounts, host+"/sub") {
			t.Errorf("tmpfs not mounted at the in-root targets %s and %s/sub:\n%s", host, host, res)
		}
		if _, err := os.Stat(filepath.Join(c.bundle, "rootfs", host)); err != nil {
			t.Errorf("the in-root mount target was not made inside the rootfs: %v", err)
		}
	}
	assertHostDirUntouched(t, host)
}

// maskedPaths and readonlyPaths whose first component is a symlink in the
// image: they must be resolved inside the rootfs. /data is a writable bind
// mount of a host directory; /m and /ro in the image point into it.
func TestSymlinkMaskedAndReadonlyPaths(t *testing.T) {
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "secret"), "host secret\n")
	if err := os.Mkdir(filepath.Join(data, "sub"), 0o777); err != nil {
		t.Fatal(err)
	}
	c := newRuntime(t).newContainer("sh", "-c", `
		echo "masked:$(cat /data/secret)"
		if echo pwned > /data/sub/pwned; then echo wrote; fi`)
	c.bindMount(data, "/data", "rw")
	symlink(t, c, "m", "/data")
	symlink(t, c, "ro", "../../../data/sub")
	c.spec.Linux.MaskedPaths = append(c.spec.Linux.MaskedPaths, "/m/secret")
	c.spec.Linux.ReadonlyPaths = append(c.spec.Linux.ReadonlyPaths, "/ro")
	out := c.runOK()
	if !strings.Contains(out, "masked:\n") {
		t.Errorf("/m/secret -> /data/secret was not masked inside the container:\n%s", out)
	}
	if strings.Contains(out, "wrote") {
		t.Errorf("/ro -> /data/sub was not made read-only inside the container:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "sub", "pwned")); err == nil {
		t.Error("the container wrote into a readonlyPaths directory")
	}
	if got, _ := os.ReadFile(filepath.Join(data, "secret")); string(got) != "host secret\n" {
		t.Errorf("the masked file changed on the host: %q", got)
	}

	// The same links pointing at host paths: the host's files must stay
	// unmasked and writable for the host, and nothing be created there.
	host := hostDir(t)
	h := newRuntime(t).newContainer("sh", "-c", "cat /etc/passwd | wc -c")
	symlink(t, h, "hm", host)
	symlink(t, h, "he", "/etc")
	h.spec.Linux.MaskedPaths = append(h.spec.Linux.MaskedPaths, "/hm/host-marker", "/he/passwd")
	h.spec.Linux.ReadonlyPaths = append(h.spec.Linux.ReadonlyPaths, "/hm")
	if got := strings.TrimSpace(h.runOK()); got != "0" {
		t.Errorf("/he/passwd did not mask the container's own /etc/passwd: %s bytes left", got)
	}
	assertHostDirUntouched(t, host)
	if _, err := os.ReadFile("/etc/passwd"); err != nil {
		t.Errorf("host /etc/passwd: %v", err)
	}
}

// An image whose /dev/console is a symlink to a host file, with a terminal:
// binding the pty over /dev/console must not follow the link out of the
// container, and what the container writes to its console must not reach
// the file.
func TestDevConsoleSymlink(t *testing.T) {
	host := hostDir(t)
	target := filepath.Join(host, "host-marker")
	for _, withDevTmpfs := range []bool{false, true} {
		t.Run(fmt.Sprintf("dev tmpfs %v", withDevTmpfs), func(t *testing.T) {
			c := newRuntime(t).newContainer("sh", "-c", "echo pwned > /dev/console; echo done")
			c.spec.Process.Terminal = true
			symlink(t, c, "dev/console", target)
			if !withDevTmpfs {
				// The image's /dev, with its planted link, is the container's.
				var mounts []specs.Mount
				for _, m := range c.spec.Mounts {
					if m.Destination != "/dev" {
						mounts = append(mounts, m)
					}
				}
				c.spec.Mounts = mounts
				c.spec.Root.Readonly = false
			}
			l := listenConsole(t)
			res := c.create("--console-socket", l.path)
			if res.Code == 0 {
				out := collect(l.master(t))
				c.mustBarco("start", c.id)
				out.waitClosed(t)
				c.waitStatus("stopped")
				assertContains(t, "console output", out.String(), "done")
			} else {
				assertContains(t, "stderr", res.Stderr, "console")
			}
			assertHostDirUntouched(t, host)
		})
	}
}

// Container ids that are paths, empty, dot names, too long for a file
// name, or hold a newline: every command rejects them before touching
// --root or the cgroup hierarchy, where the default cgroup path is named
// by the id.
func TestHostileContainerIDs(t *testing.T) {
	// Where an id used as a path would land, unique to this run.
	outside := filepath.Join(t.TempDir(), "escaped")
	ids := map[string]string{
		"dot-dot":  "../escaped",
		"deep":     "../../../../../../.." + outside,
		"slash":    "/",
		"absolute": outside,
		"empty":    "",
		"dot":      ".",
		"dotdot":   "..",
		"nested":   "a/b",
		"newline":  "a\nb",
		"tab":      "a\tb",
		"1KiB":     strings.Repeat("a", 1024),
		"name max": strings.Repeat("b", 256),
	}
	for name, id := range ids {
		t.Run(name, func(t *testing.T) {
			c := newRuntime(t).newContainer("sleep", "1000")
			c.spec.Linux.CgroupsPath = "" // the default path is named by the id
			c.save()
			before := cgroupDirs(t)
			var unclear []string
			var example string
			for _, args := range [][]string{
				{"create", "--bundle", c.bundle, id},
				{"run", "--detach", "--bundle", c.bundle, id},
				{"state", id}, {"start", id}, {"kill", id, "KILL"}, {"delete", id},
				{"delete", "--force", id}, {"exec", id, "true"}, {"pause", id}, {"ps", id},
			} {
				res := c.barco(args...)
				if args[0] == "delete" && args[1] == "--force" && res.Code == 0 {
					continue // like runc, a forced delete of nothing succeeds
				}
				if res.Code == 0 {
					t.Errorf("%s accepted a hostile id\n%s", args[0], res)
				} else if !strings.Contains(res.Stderr, "invalid container id") {
					unclear = append(unclear, args[0])
					if example == "" {
						example = res.Stderr
					}
				}
			}
			if len(unclear) > 0 {
				t.Errorf("%v: stderr does not say \"invalid container id\", e.g. %.160q", unclear, example)
			}
			entries, _ := os.ReadDir(c.root)
			for _, e := range entries {
				if !sharedRootEntry[e.Name()] {
					t.Errorf("--root holds %q after commands with a hostile id", e.Name())
				}
			}
			for _, p := range []string{filepath.Join(filepath.Dir(c.root), "escaped"), outside} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s exists: an id escaped --root", p)
				}
			}
			if added := idCgroups(id, newEntries(before, cgroupDirs(t))); len(added) > 0 {
				t.Errorf("cgroups created for a hostile id: %v", added)
				for _, d := range added {
					_ = removeCgroup(d)
				}
			}
			assertNoStrayChildren(t)
		})
	}
}

// idCgroups keeps the cgroup directories that an id used as a path would
// have made: named by the id or by one of its path elements. Other
// runtimes on the host make cgroups meanwhile; those are not ours to judge.
func idCgroups(id string, dirs []string) []string {
	names := map[string]bool{id: true}
	for _, e := range strings.Split(id, "/") {
		if e != "" && e != "." && e != ".." {
			names[e] = true
		}
	}
	var out []string
	for _, d := range dirs {
		if names[filepath.Base(d)] {
			out = append(out, d)
		}
	}
	return out
}

// cgroupDirs lists the cgroup directories near the top of the cgroup2
// hierarchy (where an id-named default path would land), leaving out the
// per-run parents of test suites running side by side.
func cgroupDirs(t *testing.T) map[string]bool {
	t.Helper()
	dirs := map[string]bool{}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if !e.IsDir() || (depth == 0 && strings.HasPrefix(e.Name(), "barco-test-")) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			dirs[p] = true
			if depth < 3 {
				walk(p, depth+1)
			}
		}
	}
	walk(env.cgroup2, 0)
	return dirs
}

func newEntries(before, after map[string]bool) []string {
	var added []string
	for d := range after {
		if !before[d] {
			added = append(added, d)
		}
	}
	sort.Strings(added)
	return added
}
