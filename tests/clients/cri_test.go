package clients

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crictl talks to containerd's CRI plugin as kubelet would. Each runtime
// under test is a runtime handler of the CRI configuration (see
// containerdConfig), chosen per pod with `crictl runp --runtime NAME`.
func (c containerdEnv) crictl(args ...string) invocation {
	endpoint := "unix://" + c.address
	argv := append([]string{env.crictl, "--runtime-endpoint", endpoint, "--image-endpoint", endpoint,
		"--timeout", "60s", "--config", filepath.Join(c.dir, "crictl.yaml")}, args...)
	return invocation{argv: argv}
}

func setupCRI(t *testing.T) containerdEnv {
	t.Helper()
	requireEnv(t)
	if env.crictl == "" {
		t.Skip("crictl is not installed (`make test-clients` builds it into tests/.cache/bin)")
	}
	c := setupContainerd(t)
	// crictl reads its configuration file even when flags say it all.
	if err := os.WriteFile(filepath.Join(c.dir, "crictl.yaml"), []byte("pull-image-on-create: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// podConfig is a pod sandbox in the node's network namespace: there is no
// CNI plugin set up on the host (and no network to give the pod).
func podConfig(t *testing.T, c containerdEnv, name string) string {
	t.Helper()
	cfg := map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": "barco-test", "uid": name + "-uid", "attempt": 0},
		"log_directory": filepath.Join(c.dir, "pod-logs", name),
		"linux": map[string]any{
			"security_context": map[string]any{
				"namespace_options": map[string]any{"network": 2},
			},
		},
	}
	return writeJSON(t, cfg)
}

func containerConfig(t *testing.T, name string, args []string, extra map[string]any) string {
	t.Helper()
	cfg := map[string]any{
		"metadata": map[string]any{"name": name},
		"image":    map[string]any{"image": imageRef},
		"command":  args,
		"log_path": name + ".log",
		"envs":     []map[string]string{{"key": "GREETING", "value": "hello from cri"}},
		"linux":    map[string]any{},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return writeJSON(t, cfg)
}

func writeJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "*.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// runPod starts a pod sandbox with rt as its runtime handler and removes it
// when the test ends; it returns the pod's id and config file.
func (c containerdEnv) runPod(t *testing.T, rt runtimeUnderTest, name string) (string, string) {
	t.Helper()
	cfg := podConfig(t, c, name)
	r := mustSucceed(t, c.crictl("runp", "--runtime", rt.name, cfg).run(t))
	pod := strings.TrimSpace(r.stdout)
	t.Cleanup(func() {
		c.crictl("stopp", pod).run(t)
		c.crictl("rmp", "--force", pod).run(t)
	})
	return pod, cfg
}

// containerState is the state and exit code `crictl inspect` reports.
func (c containerdEnv) containerState(t *testing.T, id string) (string, int) {
	t.Helper()
	r := mustSucceed(t, c.crictl("inspect", "--output", "json", id).run(t))
	var out struct {
		Status struct {
			State    string `json:"state"`
			ExitCode int    `json:"exitCode"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("inspect output: %v\n%v", err, r)
	}
	return out.Status.State, out.Status.ExitCode
}

func (c containerdEnv) waitContainerState(t *testing.T, id, want string) int {
	t.Helper()
	var code int
	eventually(t, 15*time.Second, func() error {
		var state string
		state, code = c.containerState(t, id)
		if state != want {
			return fmt.Errorf("container %s is %s, want %s", id, state, want)
		}
		return nil
	})
	return code
}

func TestCRI(t *testing.T) {
	requireEnv(t)
	scenarios := []struct {
		name string
		fn   func(t *testing.T, c containerdEnv, rt runtimeUnderTest, name string)
	}{
		{"runp, pods, stopp, rmp", criPod},
		{"create, start, exec, logs, stop, rm", criContainer},
		{"exit code", criExitCode},
		{"security context", criSecurityContext},
	}
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			eachRuntime(t, "cri: "+sc.name, func(t *testing.T, rt runtimeUnderTest) {
				c := setupCRI(t)
				sc.fn(t, c, rt, fmt.Sprintf("s%d-%s", i, rt.name))
			})
		})
	}
}

func criPod(t *testing.T, c containerdEnv, rt runtimeUnderTest, name string) {
	cfg := podConfig(t, c, name)
	r := mustSucceed(t, c.crictl("runp", "--runtime", rt.name, cfg).run(t))
	pod := strings.TrimSpace(r.stdout)
	t.Cleanup(func() { c.crictl("rmp", "--force", pod).run(t) })
	r = mustSucceed(t, c.crictl("pods", "--id", pod, "--output", "json").run(t))
	var pods struct {
		Items []struct {
			State          string `json:"state"`
			RuntimeHandler string `json:"runtimeHandler"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &pods); err != nil {
		t.Fatalf("pods output: %v\n%v", err, r)
	}
	if len(pods.Items) != 1 || pods.Items[0].State != "SANDBOX_READY" {
		t.Fatalf("want one ready pod: %v", r)
	}
	if h := pods.Items[0].RuntimeHandler; h != "" && h != rt.name {
		t.Fatalf("pod runs with handler %q, want %q", h, rt.name)
	}
	// The sandbox container (catatonit) runs under the chosen runtime.
	r = mustSucceed(t, c.ctr(criNamespace, "task", "ls").run(t))
	mustContain(t, r, pod)
	mustSucceed(t, c.crictl("stopp", pod).run(t))
	mustSucceed(t, c.crictl("rmp", pod).run(t))
	r = mustSucceed(t, c.crictl("pods", "--quiet").run(t))
	if strings.Contains(r.stdout, pod) {
		t.Fatalf("pod still listed after rmp: %v", r)
	}
}

func criContainer(t *testing.T, c containerdEnv, rt runtimeUnderTest, name string) {
	pod, podCfg := c.runPod(t, rt, name)
	cfg := containerConfig(t, "main", []string{"sh", "-c", `echo "$GREETING"; ` + loopScript}, nil)
	r := mustSucceed(t, c.crictl("create", pod, cfg, podCfg).run(t))
	id := strings.TrimSpace(r.stdout)
	mustSucceed(t, c.crictl("start", id).run(t))
	c.waitContainerState(t, id, "CONTAINER_RUNNING")

	// exec through the streaming server, and exec --sync through ExecSync.
	r = mustSucceed(t, c.crictl("exec", id, "sh", "-c", "echo streamed exec; id -u").run(t))
	mustContain(t, r, "streamed exec")
	// The pod's containers share its pid namespace: PID 1 is the
	// sandbox's catatonit.
	r = mustSucceed(t, c.crictl("exec", "--sync", id, "sh", "-c", `echo "$GREETING"; cat /proc/1/cmdline`).run(t))
	mustContain(t, r, "hello from cri")
	mustContain(t, r, "catatonit")
	// crictl exits 1 and names the command's exit code.
	r = c.crictl("exec", "--sync", id, "sh", "-c", "exit 6").run(t)
	if r.code == 0 || !strings.Contains(r.stderr, "exited with 6") {
		t.Fatalf("want exit code 6 reported: %v", r)
	}

	eventually(t, 10*time.Second, func() error {
		r := c.crictl("logs", id).run(t)
		if !strings.Contains(r.stdout, "hello from cri") || !strings.Contains(r.stdout, "started") {
			return fmt.Errorf("logs lack the container's output: %v", r)
		}
		return nil
	})
	mustSucceed(t, c.crictl("stop", "--timeout", "10", id).run(t))
	if code := c.waitContainerState(t, id, "CONTAINER_EXITED"); code != 0 {
		t.Fatalf("exit code %d after stop, want 0 (SIGTERM ends the script cleanly)", code)
	}
	mustContain(t, c.crictl("logs", id).run(t), "stopping")
	mustSucceed(t, c.crictl("rm", id).run(t))
	r = mustSucceed(t, c.crictl("ps", "--all", "--quiet").run(t))
	if strings.Contains(r.stdout, id) {
		t.Fatalf("container still listed after rm: %v", r)
	}
}

func criExitCode(t *testing.T, c containerdEnv, rt runtimeUnderTest, name string) {
	pod, podCfg := c.runPod(t, rt, name)
	cfg := containerConfig(t, "exits", []string{"sh", "-c", "echo bye; exit 3"}, nil)
	id := strings.TrimSpace(mustSucceed(t, c.crictl("create", pod, cfg, podCfg).run(t)).stdout)
	t.Cleanup(func() { c.crictl("rm", "--force", id).run(t) })
	mustSucceed(t, c.crictl("start", id).run(t))
	if code := c.waitContainerState(t, id, "CONTAINER_EXITED"); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	mustContain(t, c.crictl("logs", id).run(t), "bye")
}

func criSecurityContext(t *testing.T, c containerdEnv, rt runtimeUnderTest, name string) {
	pod, podCfg := c.runPod(t, rt, name)
	cfg := containerConfig(t, "secure", []string{"sleep", "1000"}, map[string]any{
		"linux": map[string]any{
			"security_context": map[string]any{
				"run_as_user":         map[string]any{"value": 1000},
				"run_as_group":        map[string]any{"value": 1000},
				"readonly_rootfs":     true,
				"no_new_privs":        true,
				"capabilities":        map[string]any{"drop_capabilities": []string{"ALL"}},
				"seccomp":             map[string]any{"profile_type": 0},
				"supplemental_groups": []int{77},
			},
		},
	})
	id := strings.TrimSpace(mustSucceed(t, c.crictl("create", pod, cfg, podCfg).run(t)).stdout)
	t.Cleanup(func() { c.crictl("rm", "--force", id).run(t) })
	mustSucceed(t, c.crictl("start", id).run(t))
	c.waitContainerState(t, id, "CONTAINER_RUNNING")
	r := mustSucceed(t, c.crictl("exec", "--sync", id, "sh", "-c",
		"id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/1/status /proc/self/status | sed 's/.*status://'; touch /x 2>&1 || true").run(t))
	for _, want := range []string{"1000\n1000\n", "77", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Read-only file system"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("no %q in the container's view: %v", want, r)
		}
	}
}
