package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/tests/internal/procs"
	"github.com/barco-oci/barco/tests/internal/runcmd"
)

// runQuiet runs barco like runCmd but reports problems as errors instead of
// failing the test, so that it can be called from any goroutine.
func runQuiet(dir, root string, args ...string) (result, error) {
	return runcmd.Exec(env.reaper, commandTimeout, dir, "", env.binary, append([]string{"--root", root}, args...)...)
}

// lightBundle makes a bundle whose config.json uses the shared rootfs by
// absolute path (read-only, so containers can share it) and a cgroup of its
// own under the test's cgroup parent.
func lightBundle(t *testing.T, dir, rootfs, id string, args ...string) string {
	t.Helper()
	bundle := filepath.Join(dir, id)
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := *lightSpec
	proc := *spec.Process
	proc.Args = args
	spec.Process = &proc
	linux := *spec.Linux
	linux.CgroupsPath = "/" + testCgroupParent + "/" + id
	spec.Linux = &linux
	spec.Root = &specs.Root{Path: rootfs, Readonly: true}
	data, err := json.Marshal(&spec)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bundle, "config.json"), string(data))
	return bundle
}

var (
	lightSpecOnce sync.Once
	lightSpec     *specs.Spec
)

// sharedRootfs copies the busybox rootfs once for the test and loads the
// default spec that lightBundle edits.
func sharedRootfs(t *testing.T) string {
	t.Helper()
	lightSpecOnce.Do(func() {
		s := defaultSpec(t, filepath.Join(t.TempDir(), "spec"))
		s.Process.Terminal = false
		lightSpec = s
	})
	dst := filepath.Join(t.TempDir(), "rootfs")
	copyRootfs(t, dst)
	return dst
}

// validStatus lists what `state` may report for a container that some
// other process is creating, running or removing.
var validStatus = map[string]bool{"creating": true, "created": true, "running": true, "stopped": true, "paused": true}

// checkStateOutput judges one `state` result seen while the container may
// be anywhere in its life: a complete state, or one of the two errors that
// say it is not (yet or any more) there.
func checkStateOutput(res result, id string) error {
	if res.Code != 0 {
		if strings.Contains(res.Stderr, "does not exist") || strings.Contains(res.Stderr, "being created") {
			return nil
		}
		return fmt.Errorf("state failed without saying why\n%s", res)
	}
	var st ociState
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		return fmt.Errorf("state printed something that is not JSON: %v\n%s", err, res)
	}
	if st.ID != id || !validStatus[st.Status] || st.Bundle == "" {
		return fmt.Errorf("state printed an incoherent state %+v\n%s", st, res)
	}
	return nil
}

func checkListOutput(res result) error {
	if res.Code != 0 {
		return fmt.Errorf("list failed\n%s", res)
	}
	var states []ociState
	if err := json.Unmarshal([]byte(res.Stdout), &states); err != nil {
		return fmt.Errorf("list printed something that is not JSON: %v\n%s", err, res)
	}
	for _, st := range states {
		if st.ID == "" || !validStatus[st.Status] {
			return fmt.Errorf("list shows an incoherent container %+v\n%s", st, res)
		}
	}
	return nil
}

// Many containers go through their whole life at once in one --root, while
// readers keep asking for their state: no command may fail for another's
// sake, no reader may see a torn state, and nothing may be left behind.
func TestConcurrentLifecycles(t *testing.T) {
	r := newRuntime(t)
	containers, workers := 200, 8
	if testing.Short() {
		containers = 40
	}
	rootfs := sharedRootfs(t)
	bundles := t.TempDir()
	scratch := t.TempDir()

	type job struct {
		id, bundle string
		sleeper    bool
	}
	jobs := make([]job, containers)
	run := fmt.Sprintf("%08x", rand.Uint32())
	for i := range jobs {
		id := fmt.Sprintf("conc-%s-%03d", run, i)
		j := job{id: id, sleeper: i%2 == 0}
		if j.sleeper {
			j.bundle = lightBundle(t, bundles, rootfs, id, "sleep", "1000")
		} else {
			j.bundle = lightBundle(t, bundles, rootfs, id, "true")
		}
		jobs[i] = j
	}
	t.Cleanup(func() {
		for _, j := range jobs {
			_, _ = runQuiet(scratch, r.root, "delete", "--force", j.id)
		}
	})

	var (
		mu       sync.Mutex
		problems []string
	)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	must := func(j job, args ...string) bool {
		res, err := runQuiet(scratch, r.root, args...)
		if err == nil && res.Code != 0 {
			err = fmt.Errorf("expected success\n%s", res)
		}
		if err != nil {
			report("%s: %v", j.id, err)
			return false
		}
		return true
	}
	waitStopped := func(j job) bool {
		err := eventually(20*time.Second, func() error {
			res, err := runQuiet(scratch, r.root, "state", j.id)
			if err != nil {
				return err
			}
			if err := checkStateOutput(res, j.id); err != nil {
				report("%v", err)
				return nil
			}
			if !strings.Contains(res.Stdout, `"stopped"`) {
				return fmt.Errorf("not stopped: %s", res.Stdout)
			}
			return nil
		})
		if err != nil {
			report("%s: %v", j.id, err)
		}
		return err == nil
	}

	begin := time.Now()
	queue := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				if !must(j, "create", "--bundle", j.bundle, j.id) || !must(j, "start", j.id) {
					continue
				}
				if j.sleeper && !must(j, "kill", j.id, "KILL") {
					continue
				}
				if waitStopped(j) {
					must(j, "delete", j.id)
				}
			}
		}()
	}

	done := make(chan struct{})
	var reads atomic.Int64
	var readers sync.WaitGroup
	for i := 0; i < 2; i++ {
		readers.Add(1)
		go func(i int) {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var res result
				var err error
				if i == 0 {
					res, err = runQuiet(scratch, r.root, "list", "--format", "json")
					if err == nil {
						err = checkListOutput(res)
					}
				} else {
					id := jobs[rand.IntN(len(jobs))].id
					res, err = runQuiet(scratch, r.root, "state", id)
					if err == nil {
						err = checkStateOutput(res, id)
					}
				}
				reads.Add(1)
				if err != nil {
					report("reader: %v", err)
				}
			}
		}(i)
	}

	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	wg.Wait()
	close(done)
	readers.Wait()
	t.Logf("%d containers created, started, stopped and deleted by %d workers, with %d concurrent state/list reads, in %v",
		containers, workers, reads.Load(), time.Since(begin).Round(time.Millisecond))
	for _, p := range problems {
		t.Error(p)
	}

	res := r.mustBarco("list", "-q")
	if strings.TrimSpace(res.Stdout) != "" {
		t.Errorf("containers left after every one was deleted:\n%s", res.Stdout)
	}
	assertBatchLeftNothing(t, r.root, "conc-"+run, bundles, rootfs)
	assertNoStrayChildren(t)
}

// assertBatchLeftNothing is assertNothingLeft for many containers at once:
// no state under root, no cgroup, mount or process of any container whose
// id starts with prefix.
func assertBatchLeftNothing(t *testing.T, root, prefix string, dirs ...string) {
	t.Helper()
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), ".new-") {
				t.Errorf("--root %s still holds %q", root, e.Name())
			}
		}
	}
	if entries, err := os.ReadDir(filepath.Join(env.cgroup2, testCgroupParent)); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				t.Errorf("cgroup %s left behind", e.Name())
				_ = removeCgroup(testCgroupDir(e.Name()))
			}
		}
	}
	for _, d := range dirs {
		if mps := mountPointsContaining(d); len(mps) > 0 {
			t.Errorf("mounts left under %s: %v", d, mps)
		}
	}
	err := eventually(3*time.Second, func() error {
		var left []string
		for _, p := range procs.Processes() {
			if p.State == "Z" {
				continue
			}
			mine := strings.Contains(p.Cmdline, prefix)
			for _, d := range dirs {
				mine = mine || strings.Contains(p.Cmdline, d)
			}
			if mine || inCgroupPrefix(p.PID, "/"+testCgroupParent+"/"+prefix) {
				left = append(left, fmt.Sprintf("%d (%s)", p.PID, p.Cmdline))
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("processes left: %s", strings.Join(left, ", "))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// inCgroupPrefix tells whether a process is in a cgroup2 group whose path
// starts with prefix.
func inCgroupPrefix(pid int, prefix string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return strings.HasPrefix(p, prefix)
		}
	}
	return false
}
