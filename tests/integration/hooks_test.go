package integration

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookScript writes a hook that appends "<kind> <mount ns>" to log and
// saves its stdin, argv and env under dir/<kind>.*.
func hookScript(t *testing.T, path, dir string) {
	t.Helper()
	script := `#!/bin/sh
kind=$1
echo "$kind $(readlink /proc/self/ns/mnt)" >> ` + dir + `/log
cat > ` + dir + `/$kind.json
echo "$@" > ` + dir + `/$kind.args
env > ` + dir + `/$kind.env
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestHooksOrderStateAndNamespaces(t *testing.T) {
	c := newRuntime(t).newContainer("sh", "-c", "echo running > /out/main")
	out := c.outDir()
	// Outside the container: a script on the host; startContainer runs in
	// the container after pivot_root, so its copy lives in the rootfs and
	// writes to the /out bind mount.
	host := filepath.Join(t.TempDir(), "hook.sh")
	hookScript(t, host, out)
	hookScript(t, filepath.Join(c.bundle, "rootfs", "hook.sh"), "/out")
	hook := func(kind, path string) []specs.Hook {
		return []specs.Hook{{Path: path, Args: []string{"hook.sh", kind, "extra-arg"}, Env: []string{"HOOK_KIND=" + kind}}}
	}
	c.spec.Hooks = &specs.Hooks{
		Prestart:        hook("prestart", host),
		CreateRuntime:   hook("createRuntime", host),
		CreateContainer: hook("createContainer", host),
		StartContainer:  hook("startContainer", "/hook.sh"),
		Poststart:       hook("poststart", host),
		Poststop:        hook("poststop", host),
	}
	c.runOK()

	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	f, err := os.Open(filepath.Join(out, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, mnt, _ := strings.Cut(sc.Text(), " ")
		order = append(order, kind)
		inContainer := kind == "createContainer" || kind == "startContainer"
		if inContainer && mnt == hostMnt {
			t.Errorf("%s hook ran in the host's mount namespace", kind)
		}
		if !inContainer && mnt != hostMnt {
			t.Errorf("%s hook ran in mount namespace %s, not the runtime's %s", kind, mnt, hostMnt)
		}
	}
	want := "prestart createRuntime createContainer startContainer poststart poststop"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("hook order %q, want %q", got, want)
	}
	for _, kind := range strings.Fields(want) {
		var st specs.State
		readJSON(t, filepath.Join(out, kind+".json"), &st)
		if st.ID != c.id || st.Bundle != c.bundle {
			t.Errorf("%s: state %+v does not describe the container", kind, st)
		}
		if kind != "poststop" && st.Pid <= 0 {
			t.Errorf("%s: state has no pid: %+v", kind, st)
		}
		args, _ := os.ReadFile(filepath.Join(out, kind+".args"))
		if strings.TrimSpace(string(args)) != kind+" extra-arg" {
			t.Errorf("%s: args %q", kind, args)
		}
		envData, _ := os.ReadFile(filepath.Join(out, kind+".env"))
		if !strings.Contains(string(envData), "HOOK_KIND="+kind) {
			t.Errorf("%s: env %q lacks HOOK_KIND", kind, envData)
		}
	}
	wantStatus := map[string]specs.ContainerState{"createRuntime": "created", "poststart": "running", "poststop": "stopped"}
	for kind, status := range wantStatus {
		var st specs.State
		readJSON(t, filepath.Join(out, kind+".json"), &st)
		if st.Status != status {
			t.Errorf("%s: status %q, want %q", kind, st.Status, status)
		}
	}
}

func TestHookTimeoutFailsCreate(t *testing.T) {
	c := newRuntime(t).newContainer("true")
	timeout := 1
	c.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &timeout}}}
	res := c.create()
	expectFailure(t, c, res, c.id, "createRuntime", "timed out")
}

func TestFailingHooks(t *testing.T) {
	fail := []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-broke >&2; exit 3"}}}

	c := newRuntime(t).newContainer("true")
	c.spec.Hooks = &specs.Hooks{CreateContainer: fail}
	expectFailure(t, c, c.create(), c.id, "createContainer", "hook-broke")

	// A failing poststart fails start and stops the container.
	p := newRuntime(t).newContainer("sleep", "1000")
	p.spec.Hooks = &specs.Hooks{Poststart: fail}
	if res := p.create(); res.Code != 0 {
		t.Fatalf("create\n%s", res)
	}
	res := p.barco("start", p.id)
	if res.Code == 0 || !strings.Contains(res.Stderr, "poststart") {
		t.Fatalf("start with a failing poststart hook\n%s", res)
	}
	p.waitStatus("stopped")

	// A failing poststop is only a warning.
	s := newRuntime(t).newContainer("true")
	s.spec.Hooks = &specs.Hooks{Poststop: fail}
	if res := s.run(); res.Code != 0 {
		t.Fatalf("run with a failing poststop hook\n%s", res)
	}
}

func TestLogFormatJSON(t *testing.T) {
	c := newRuntime(t).newContainer("true")
	c.spec.Linux.Namespaces = append(c.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
	c.save()
	logFile := filepath.Join(t.TempDir(), "barco.log")
	res := c.barco("--log", logFile, "--log-format", "json", "create", "--bundle", c.bundle, c.id)
	if res.Code == 0 {
		t.Fatalf("create with a bogus namespace succeeded\n%s", res)
	}
	assertContains(t, "stderr", res.Stderr, "bogus")
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		last = nil
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
	}
	if last["level"] != "error" || !strings.Contains(last["msg"].(string), "bogus") || last["time"] == nil {
		t.Errorf("last log line %v: want level error, the message and a time", last)
	}
}
