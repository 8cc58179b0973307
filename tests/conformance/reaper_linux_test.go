package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReaper(t *testing.T) {
	r, err := newReaper()
	if err != nil {
		t.Fatalf("newReaper: %v", err)
	}
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	cases := []struct {
		name     string
		script   string
		timeout  time.Duration
		want     string
		timedOut bool
	}{
		{"zero exit", "exit 0", 10 * time.Second, "", false},
		{"exit status", "exit 3", 10 * time.Second, "exit status 3", false},
		{"signal", "kill -TERM $$", 10 * time.Second, "killed by SIGTERM", false},
		// The timeout kills the whole process group, the sleep included.
		{"timeout", "sleep 30 & wait", 200 * time.Millisecond, "killed by SIGKILL", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := r.start([]string{"/bin/sh", "-c", c.script}, dir, nil, out, out)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			ws, timedOut := p.wait(c.timeout)
			if got := describeExit(ws); got != c.want || timedOut != c.timedOut {
				t.Errorf("exit %q timedOut %v, want %q %v", got, timedOut, c.want, c.timedOut)
			}
		})
	}

	t.Run("orphans are reaped", func(t *testing.T) {
		pidFile := filepath.Join(dir, "orphan.pid")
		p, err := r.start([]string{"/bin/sh", "-c", "sleep 0.3 & echo $! > " + pidFile}, dir, nil, out, out)
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if ws, _ := p.wait(10 * time.Second); describeExit(ws) != "" {
			t.Fatalf("shell: %s", describeExit(ws))
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		// Once reaped, the orphan's /proc entry is gone; a zombie keeps it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
				return
			}
			if time.Now().After(deadline) {
				stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
				t.Fatalf("orphan %d not reaped: %s", pid, stat)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("leftover processes are killed", func(t *testing.T) {
		// The shell exits at once; its background sleep and the sleep's
		// own child are inherited by the test process.
		p, err := r.start([]string{"/bin/sh", "-c", "sh -c 'sleep 60 & sleep 60' & exit 0"}, dir, nil, out, out)
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		p.wait(10 * time.Second)
		deadline := time.Now().Add(5 * time.Second)
		for {
			kids, err := childrenOf(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if len(kids) > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		n, err := r.killOrphans(5 * time.Second)
		if err != nil || n < 1 {
			t.Fatalf("killOrphans = %d, %v; want at least 1 killed", n, err)
		}
		if kids, _ := childrenOf(os.Getpid()); len(kids) != 0 {
			t.Errorf("children left: %v", kids)
		}
	})
}

func TestParseStat(t *testing.T) {
	cases := []struct {
		stat  string
		ppid  int
		state string
		ok    bool
	}{
		{"42 (sleep) S 7 42 42 0 -1", 7, "S", true},
		{"43 (a b) c)) Z 1 43 43", 1, "Z", true},
		{"44 (x", 0, "", false},
		{"45 (x) R", 0, "", false},
		{"46 (x) R notanumber", 0, "", false},
	}
	for _, c := range cases {
		ppid, state, ok := parseStat(c.stat)
		if ppid != c.ppid || state != c.state || ok != c.ok {
			t.Errorf("parseStat(%q) = %d %q %v, want %d %q %v", c.stat, ppid, state, ok, c.ppid, c.state, c.ok)
		}
	}
}
