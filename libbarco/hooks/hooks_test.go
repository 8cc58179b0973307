package hooks

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

func testState() specs.State {
	return specs.State{
		Version:     specs.Version,
		ID:          "c1",
		Status:      specs.StateCreated,
		Pid:         4242,
		Bundle:      "/bundles/c1",
		Annotations: map[string]string{"org.example.key": "value"},
	}
}

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRunPassesStateArgsAndEnv(t *testing.T) {
	dir := t.TempDir()
	// The script dumps what it was given: stdin, one argv entry per line
	// ($0 first) and its whole environment.
	path := writeScript(t, dir, "dump", `
cat > "$OUT/stdin"
printf '%s\n' "$0" "$@" > "$OUT/argv"
env > "$OUT/env"
`)
	tests := []struct {
		name     string
		args     []string
		wantArgv []string
	}{
		{"args given", []string{"my-hook", "one", "two words"}, []string{path, "one", "two words"}},
		// $0 of a script run through #! is the script path the kernel was
		// given, whatever argv[0] was.
		{"no args", nil, []string{path}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			h := configs.Hook{Path: path, Args: tc.args, Env: []string{"OUT=" + out, "HOOK_VAR=x y"}}
			if err := Run("prestart", 0, h, testState()); err != nil {
				t.Fatal(err)
			}
			var got specs.State
			if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "stdin"))), &got); err != nil {
				t.Fatalf("stdin is not a state JSON: %v", err)
			}
			if !reflect.DeepEqual(got, testState()) {
				t.Errorf("state on stdin %+v, want %+v", got, testState())
			}
			argv := strings.Split(strings.TrimSuffix(readFile(t, filepath.Join(out, "argv")), "\n"), "\n")
			if !reflect.DeepEqual(argv, tc.wantArgv) {
				t.Errorf("argv %q, want %q", argv, tc.wantArgv)
			}
			env := readFile(t, filepath.Join(out, "env"))
			for _, kv := range h.Env {
				if !strings.Contains(env, kv+"\n") {
					t.Errorf("env lacks %q:\n%s", kv, env)
				}
			}
			// Nothing from the test's own environment may leak in; the
			// shell itself only adds PWD (and, for dash, nothing else that
			// the parent could have set).
			for _, line := range strings.Split(strings.TrimSpace(env), "\n") {
				k, _, _ := strings.Cut(line, "=")
				switch k {
				case "OUT", "HOOK_VAR", "PWD", "SHLVL", "_":
				default:
					t.Errorf("unexpected variable in the hook's environment: %q", line)
				}
			}
		})
	}
}

func TestRunArgv0(t *testing.T) {
	// A binary, unlike a script, sees the argv[0] it was given.
	out := filepath.Join(t.TempDir(), "argv0")
	// With -c, the shell's $0 is the argument after the script, so its
	// real argv[0] is read back from /proc.
	h := configs.Hook{Path: "/bin/sh", Args: []string{"custom-name", "-c", `tr '\0' '\n' < /proc/$$/cmdline > "$0"`, out}}
	if err := Run("createRuntime", 0, h, testState()); err != nil {
		t.Fatal(err)
	}
	argv0, _, _ := strings.Cut(readFile(t, out), "\n")
	if argv0 != "custom-name" {
		t.Errorf("argv[0] %q, want custom-name", argv0)
	}
}

func TestRunFailure(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 3*maxOutput)
	tests := []struct {
		name    string
		body    string
		want    []string // substrings of the error
		notWant []string
	}{
		{
			name: "exit status and stderr",
			body: "echo doing things; echo 'cannot set up network' >&2; exit 3\n",
			want: []string{"hook poststart[2] ", "exit status 3: cannot set up network"},
		},
		{
			name: "stdout when stderr is empty",
			body: "echo 'failed on stdout'; exit 1\n",
			want: []string{"exit status 1: failed on stdout"},
		},
		{
			name:    "only the tail of long stderr",
			body:    "printf '" + long + "' >&2; echo THE-END >&2; exit 2\n",
			want:    []string{"exit status 2: ", "THE-END"},
			notWant: []string{strings.Repeat("x", maxOutput)},
		},
		{
			name:    "no output",
			body:    "exit 4\n",
			want:    []string{"exit status 4"},
			notWant: []string{"exit status 4:"},
		},
		{
			name: "killed by a signal",
			body: "kill -TERM $$\n",
			want: []string{"killed by signal SIGTERM"},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeScript(t, dir, "fail"+strconv.Itoa(i), tc.body)
			err := Run("poststart", 2, configs.Hook{Path: path}, testState())
			if err == nil {
				t.Fatal("no error from a failing hook")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %.200q... contains %.20q", err, w)
				}
			}
		})
	}
}

func TestRunMissingBinary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope")
	err := Run("createContainer", 1, configs.Hook{Path: path}, testState())
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want one wrapping ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "hook createContainer[1] "+path+": ") {
		t.Errorf("error %q does not name the hook", err)
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "sleeper.pid")
	// The shell waits for a background child; killing only the shell would
	// leave the child sleeping with the hook's output pipes open.
	path := writeScript(t, dir, "slow", "sleep 30 &\necho $! > "+pidFile+"\nwait\n")
	start := time.Now()
	err := Run("startContainer", 0, configs.Hook{Path: path, Timeout: 1}, testState())
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("no error from a hook that outlived its timeout")
	}
	want := "hook startContainer[0] " + path + ": timed out after 1s"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if elapsed < time.Second || elapsed > 5*time.Second {
		t.Errorf("Run returned after %v, want about 1s", elapsed)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	// The sleeper was reparented away from us; wait until it is gone or
	// only a zombie waiting for its new parent.
	deadline := time.Now().Add(3 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			break
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 0 && fields[0] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			_ = unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("the hook's child %d still runs after the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunWithinTimeout(t *testing.T) {
	path := writeScript(t, t.TempDir(), "quick", "exit 0\n")
	if err := Run("poststop", 0, configs.Hook{Path: path, Timeout: 5}, testState()); err != nil {
		t.Fatal(err)
	}
}

func TestRunDoesNotWaitForLeftoverDaemon(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "daemon.pid")
	// The daemon keeps the hook's stdout open after the hook exits.
	path := writeScript(t, dir, "daemonize", "sleep 30 &\necho $! > "+pidFile+"\nexit 0\n")
	start := time.Now()
	err := Run("createRuntime", 0, configs.Hook{Path: path}, testState())
	if pid, perr := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile))); perr == nil {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	if err != nil {
		t.Fatalf("a hook that exited 0 failed: %v", err)
	}
	if d := time.Since(start); d > ioGrace+3*time.Second {
		t.Errorf("Run took %v: it waited for the hook's daemon", d)
	}
}

func TestRunAllStopsAtFirstFailure(t *testing.T) {
	dir := t.TempDir()
	marks := filepath.Join(dir, "marks")
	mark := func(name string, code int) configs.Hook {
		return configs.Hook{
			Path: "/bin/sh",
			Args: []string{"sh", "-c", `echo "$1" >> "$2"; exit "$3"`, "sh", name, marks, strconv.Itoa(code)},
		}
	}
	tests := []struct {
		name    string
		hooks   []configs.Hook
		wantErr string
		want    string
	}{
		{"all succeed", []configs.Hook{mark("a", 0), mark("b", 0)}, "", "a\nb\n"},
		{"second fails", []configs.Hook{mark("a", 0), mark("b", 1), mark("c", 0)}, "hook prestart[1] /bin/sh: exit status 1", "a\nb\n"},
		{"first fails", []configs.Hook{mark("a", 7), mark("b", 0)}, "hook prestart[0] /bin/sh: exit status 7", "a\n"},
		{"none", nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(marks, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			err := RunAll("prestart", tc.hooks, testState())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want prefix %q", err, tc.wantErr)
			}
			if got := readFile(t, marks); got != tc.want {
				t.Errorf("hooks run: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"short", []string{"ab", "cd"}, "abcd"},
		{"exactly full", []string{strings.Repeat("a", maxOutput)}, strings.Repeat("a", maxOutput)},
		{"one big write", []string{"x" + strings.Repeat("b", maxOutput)}, strings.Repeat("b", maxOutput)},
		{"overflow across writes", []string{strings.Repeat("a", maxOutput-1), "bc"}, strings.Repeat("a", maxOutput-2) + "bc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tl tail
			for _, w := range tc.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := string(tl.buf); got != tc.want {
				t.Errorf("kept %d bytes %.20q..., want %d bytes %.20q...", len(got), got, len(tc.want), tc.want)
			}
		})
	}
}

func TestRunDoesNotLeakFiles(t *testing.T) {
	// A file barco has open must not reach the hook. (Only what barco
	// itself opens is checked: fds inherited from whoever runs the tests
	// are outside its control.)
	dir := t.TempDir()
	marker := filepath.Join(dir, "open-in-barco")
	f, err := os.Create(marker)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(dir, "fds")
	h := configs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `exec ls -l /proc/self/fd/ > "$0"`, out}}
	if err := Run("createRuntime", 0, h, testState()); err != nil {
		t.Fatal(err)
	}
	fds := readFile(t, out)
	if strings.Contains(fds, marker) {
		t.Errorf("the hook inherited %s:\n%s", marker, fds)
	}
	for _, fd := range []string{" 0 -> ", " 1 -> ", " 2 -> "} {
		if !strings.Contains(fds, fd) {
			t.Errorf("the hook lacks stdio fd %q:\n%s", fd, fds)
		}
	}
}

// TestRunStdinSizes: the state reaches the hook whole whether it fits the
// pipe's buffer (written before the hook starts) or not (copied while it
// runs).
func TestRunStdinSizes(t *testing.T) {
	dir := t.TempDir()
	path := writeScript(t, dir, "copy", `cat > "$OUT/stdin"`)
	for _, size := range []int{0, 1000, 70000, 300000} {
		st := testState()
		st.Annotations = map[string]string{"big": strings.Repeat("x", size)}
		out := t.TempDir()
		h := configs.Hook{Path: path, Env: []string{"OUT=" + out}}
		if err := Run("createRuntime", 0, h, st); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		var got specs.State
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "stdin"))), &got); err != nil {
			t.Fatalf("%d bytes: stdin is not a state JSON: %v", size, err)
		}
		if len(got.Annotations["big"]) != size {
			t.Errorf("%d bytes: the hook got an annotation of %d", size, len(got.Annotations["big"]))
		}
	}
}
