package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var errInterrupted = errors.New("interrupted")

// bench runs the cells against every runtime, round-robin: in round i the
// runtimes take turns starting with runtime i mod n, so that none is always
// first after the harness's own work or always last.
type bench struct {
	o         options
	rts       []*runtimeUnderTest
	r         *reaper
	bundleDir string
	pidDir    string
	cgroupDir string // the cgroupParent directory
	trueSpec  specs.Spec
	sleepSpec specs.Spec
	res       *results
	stop      *atomic.Bool
	// live are the containers not deleted yet, with their init's pid.
	live map[*runtimeUnderTest]map[string]int
}

func (b *bench) order(round int) []*runtimeUnderTest {
	n := len(b.rts)
	out := make([]*runtimeUnderTest, 0, n)
	for i := range n {
		out = append(out, b.rts[(round+i)%n])
	}
	return out
}

func (b *bench) interrupted() error {
	if b.stop.Load() {
		return errInterrupted
	}
	return nil
}

// measure runs op between two snapshots and records the sample.
func (b *bench) measure(cell string, rt *runtimeUnderTest, op func() (launchResult, error)) error {
	s0, err := b.r.snapshot()
	if err != nil {
		return err
	}
	res, err := op()
	if err != nil {
		return err
	}
	s1, err := b.r.snapshot()
	if err != nil {
		return err
	}
	b.res.add(cell, rt.name, sample{wall: res.wall(), cpu: cost(s0, s1), peakRSS: b.r.peakRSS(s0, s1)})
	return nil
}

// create creates container id from spec and tracks its init.
func (b *bench) create(rt *runtimeUnderTest, id string, spec specs.Spec) (launchResult, error) {
	bundle, err := writeBundle(b.bundleDir, id, spec)
	if err != nil {
		return launchResult{}, err
	}
	pidFile := filepath.Join(b.pidDir, id)
	l, err := b.r.run(id+"-create", rt.argv("create", "--bundle", bundle, "--pid-file", pidFile, id))
	if l != nil && l.done {
		// Even a failed create may have left state behind.
		b.live[rt][id] = 0
	}
	if err != nil {
		return launchResult{}, err
	}
	pid, err := readPidFile(pidFile)
	if err != nil {
		return launchResult{}, fmt.Errorf("%s create %s: %w", rt.name, id, err)
	}
	b.live[rt][id] = pid
	b.r.track(pid)
	return l.res, nil
}

// start starts container id; with waitExit, it also waits for its process
// to exit, so that its whole CPU time is in the measurement.
func (b *bench) start(rt *runtimeUnderTest, id string, waitExit bool) (launchResult, error) {
	l, err := b.r.run(id+"-start", rt.argv("start", id))
	if err != nil {
		return launchResult{}, err
	}
	if waitExit {
		if err := b.r.waitExit(b.live[rt][id]); err != nil {
			return launchResult{}, err
		}
	}
	return l.res, nil
}

// remove deletes container id (forced: even a running one) and waits for its
// init to be reaped.
func (b *bench) remove(rt *runtimeUnderTest, id string, force bool) (launchResult, error) {
	args := []string{"delete", id}
	if force {
		args = []string{"delete", "--force", id}
	}
	l, err := b.r.run(id+"-delete", rt.argv(args...))
	if err != nil {
		return launchResult{}, err
	}
	pid := b.live[rt][id]
	delete(b.live[rt], id)
	_ = os.RemoveAll(filepath.Join(b.bundleDir, id))
	_ = os.Remove(filepath.Join(b.pidDir, id))
	if err := b.r.waitExit(pid); err != nil {
		return launchResult{}, err
	}
	return l.res, nil
}

// cellRun: `run` of /bin/true, in the foreground, from bundle to exit.
func (b *bench) cellRun() error {
	for i := range b.o.runRounds {
		for _, rt := range b.order(i) {
			if err := b.interrupted(); err != nil {
				return err
			}
			id := fmt.Sprintf("%s-run-%d", rt.name, i)
			bundle, err := writeBundle(b.bundleDir, id, b.trueSpec)
			if err != nil {
				return err
			}
			err = b.measure("run", rt, func() (launchResult, error) {
				l, err := b.r.run(id+"-run", rt.argv("run", "--bundle", bundle, id))
				if err != nil {
					return launchResult{}, err
				}
				return l.res, nil
			})
			_ = os.RemoveAll(bundle)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// cellLifecycle: create, start (until /bin/true has exited) and delete of
// one container, each measured.
func (b *bench) cellLifecycle() error {
	for i := range b.o.lifeRounds {
		for _, rt := range b.order(i) {
			if err := b.interrupted(); err != nil {
				return err
			}
			id := fmt.Sprintf("%s-life-%d", rt.name, i)
			if err := b.measure("create", rt, func() (launchResult, error) { return b.create(rt, id, b.trueSpec) }); err != nil {
				return err
			}
			if err := b.measure("start", rt, func() (launchResult, error) { return b.start(rt, id, true) }); err != nil {
				return err
			}
			if err := b.measure("delete", rt, func() (launchResult, error) { return b.remove(rt, id, false) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// cellExec: `exec /bin/true` into a running container of each runtime.
func (b *bench) cellExec() error {
	ids := map[*runtimeUnderTest]string{}
	for _, rt := range b.rts {
		id := rt.name + "-exec"
		if _, err := b.create(rt, id, b.sleepSpec); err != nil {
			return err
		}
		if _, err := b.start(rt, id, false); err != nil {
			return err
		}
		ids[rt] = id
	}
	for i := range b.o.execRounds {
		for _, rt := range b.order(i) {
			if err := b.interrupted(); err != nil {
				return err
			}
			err := b.measure("exec", rt, func() (launchResult, error) {
				l, err := b.r.run(ids[rt]+"-exec", rt.argv("exec", ids[rt], "/bin/true"))
				if err != nil {
					return launchResult{}, err
				}
				return l.res, nil
			})
			if err != nil {
				return err
			}
		}
	}
	for _, rt := range b.rts {
		if _, err := b.remove(rt, ids[rt], true); err != nil {
			return err
		}
	}
	return nil
}

// cellQuery: `state` and `list` with queryN created containers per runtime,
// and the memory each created container holds.
func (b *bench) cellQuery() error {
	ids := map[*runtimeUnderTest][]string{}
	for _, rt := range b.rts {
		if err := b.interrupted(); err != nil {
			return err
		}
		for k := range b.o.queryN {
			ids[rt] = append(ids[rt], fmt.Sprintf("%s-q-%d", rt.name, k))
		}
		if err := b.createMany(rt, ids[rt], b.trueSpec); err != nil {
			return err
		}
	}
	// Measured once all exist: what the inits hold while they wait.
	for _, rt := range b.rts {
		for _, id := range ids[rt] {
			mem, n, err := cgroupMemory(filepath.Join(b.cgroupDir, id))
			if err != nil {
				return fmt.Errorf("%s: memory of %s: %w", rt.name, id, err)
			}
			if n == 0 {
				return fmt.Errorf("%s: created container %s has no process in its cgroup", rt.name, id)
			}
			b.res.createdRSS[rt.name] = append(b.res.createdRSS[rt.name], mem.rss)
			b.res.createdAnon[rt.name] = append(b.res.createdAnon[rt.name], mem.anon)
		}
	}
	for i := range b.o.queryRounds {
		for _, rt := range b.order(i) {
			if err := b.interrupted(); err != nil {
				return err
			}
			id := ids[rt][i%len(ids[rt])]
			for _, q := range [][]string{{"state", id}, {"list"}} {
				err := b.measure(q[0], rt, func() (launchResult, error) {
					l, err := b.r.run(fmt.Sprintf("%s-%s-%d", rt.name, q[0], i), rt.argv(q...))
					if err != nil {
						return launchResult{}, err
					}
					return l.res, nil
				})
				if err != nil {
					return err
				}
			}
		}
	}
	return b.removeAll(ids)
}

// job is one unmeasured runtime command of a setup or a teardown.
type job struct {
	name string
	argv []string
	done func() error // after the command succeeded
}

// setupParallel is how many setup or teardown commands run at once: enough
// to keep two cores busy, few enough not to thrash.
const setupParallel = 4

// runMany runs jobs, setupParallel at a time, as direct children.
func (b *bench) runMany(jobs []job) error {
	running := map[*launch]job{}
	var firstErr error
	for next := 0; next < len(jobs) || len(running) > 0; {
		for next < len(jobs) && len(running) < setupParallel && firstErr == nil {
			l, err := b.r.startDirect(jobs[next].name, jobs[next].argv)
			if err != nil {
				firstErr = cmp(firstErr, err)
				break
			}
			running[l] = jobs[next]
			next++
		}
		if len(running) == 0 {
			break
		}
		l, err := b.r.next()
		if err != nil {
			return err
		}
		j, ok := running[l]
		if !ok {
			continue
		}
		delete(running, l)
		switch {
		case l.err != nil:
			firstErr = cmp(firstErr, l.err)
		case j.done != nil:
			firstErr = cmp(firstErr, j.done())
		}
	}
	return firstErr
}

// createMany creates containers of one runtime, a few at a time, and
// tracks their inits.
func (b *bench) createMany(rt *runtimeUnderTest, ids []string, spec specs.Spec) error {
	jobs := make([]job, len(ids))
	for k, id := range ids {
		bundle, err := writeBundle(b.bundleDir, id, spec)
		if err != nil {
			return err
		}
		pidFile := filepath.Join(b.pidDir, id)
		b.live[rt][id] = 0
		jobs[k] = job{
			name: id + "-create",
			argv: rt.argv("create", "--bundle", bundle, "--pid-file", pidFile, id),
			done: func() error {
				pid, err := readPidFile(pidFile)
				if err != nil {
					return fmt.Errorf("%s create %s: %w", rt.name, id, err)
				}
				b.live[rt][id] = pid
				b.r.track(pid)
				return nil
			},
		}
	}
	return b.runMany(jobs)
}

// removeAll force-deletes containers, a few at a time, and waits for their
// inits to be reaped.
func (b *bench) removeAll(ids map[*runtimeUnderTest][]string) error {
	var jobs []job
	var pids []int
	for _, rt := range b.rts {
		for _, id := range ids[rt] {
			jobs = append(jobs, job{
				name: id + "-delete",
				argv: rt.argv("delete", "--force", id),
				// Not waitExit here: it would reap the other jobs
				// behind runMany's back.
				done: func() error {
					pids = append(pids, b.live[rt][id])
					delete(b.live[rt], id)
					_ = os.RemoveAll(filepath.Join(b.bundleDir, id))
					_ = os.Remove(filepath.Join(b.pidDir, id))
					return nil
				},
			})
		}
	}
	err := b.runMany(jobs)
	for _, pid := range pids {
		err = cmp(err, b.r.waitExit(pid))
	}
	return err
}

// cellConcurrent: concN containers created and started at once, each a
// create followed by its start; the total from the first execve to the
// last start's exit, and the CPU of all, inits included until they exit.
// The runtimes run as direct children here: the launcher's own execve, 2×N
// times, would weigh on the total for every runtime alike.
func (b *bench) cellConcurrent() error {
	for i := range b.o.concRounds {
		for _, rt := range b.order(i) {
			if err := b.interrupted(); err != nil {
				return err
			}
			ids := make([]string, b.o.concN)
			bundles := make([]string, b.o.concN)
			for k := range ids {
				ids[k] = fmt.Sprintf("%s-c%d-%d", rt.name, i, k)
				var err error
				if bundles[k], err = writeBundle(b.bundleDir, ids[k], b.trueSpec); err != nil {
					return err
				}
			}
			err := b.measure("concurrent", rt, func() (launchResult, error) {
				return b.concurrent(rt, ids, bundles)
			})
			if err != nil {
				return err
			}
			if err := b.removeAll(map[*runtimeUnderTest][]string{rt: ids}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *bench) concurrent(rt *runtimeUnderTest, ids, bundles []string) (launchResult, error) {
	phase := map[*launch]int{} // index of the container; its create or start
	creates := map[*launch]bool{}
	var total launchResult
	total.begin = monotonic()
	for k, id := range ids {
		b.live[rt][id] = 0
		pidFile := filepath.Join(b.pidDir, id)
		l, err := b.r.startDirect(id+"-create", rt.argv("create", "--bundle", bundles[k], "--pid-file", pidFile, id))
		if err != nil {
			return total, err
		}
		phase[l] = k
		creates[l] = true
	}
	var firstErr error
	for len(phase) > 0 {
		l, err := b.r.next()
		if err != nil {
			return total, err
		}
		k, ok := phase[l]
		if !ok {
			continue
		}
		delete(phase, l)
		if l.err != nil {
			firstErr = cmp(firstErr, l.err)
			continue
		}
		total.end = max(total.end, l.res.end)
		if !creates[l] {
			continue
		}
		pid, err := readPidFile(filepath.Join(b.pidDir, ids[k]))
		if err != nil {
			firstErr = cmp(firstErr, err)
			continue
		}
		b.live[rt][ids[k]] = pid
		b.r.track(pid)
		sl, err := b.r.startDirect(ids[k]+"-start", rt.argv("start", ids[k]))
		if err != nil {
			firstErr = cmp(firstErr, err)
			continue
		}
		phase[sl] = k
	}
	if firstErr != nil {
		return total, firstErr
	}
	for _, id := range ids {
		if err := b.r.waitExit(b.live[rt][id]); err != nil {
			return total, err
		}
	}
	return total, nil
}

// cmp keeps the first error.
func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// cleanup force-deletes every container still known, then empties and
// removes the cgroup parent whatever the runtimes left in it.
func (b *bench) cleanup() {
	for _, rt := range b.rts {
		for id, pid := range b.live[rt] {
			if l, err := b.r.startDirect(id+"-cleanup", rt.argv("delete", "--force", id)); err == nil {
				_ = b.r.wait(l)
			}
			if pid > 0 {
				_ = b.r.waitExit(pid)
			}
		}
	}
	removeCgroupTree(b.cgroupDir)
	b.r.drain()
}

// removeCgroupTree kills what is left in a cgroup tree and removes it,
// deepest first.
func removeCgroupTree(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	for range 50 {
		if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
