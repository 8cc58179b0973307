package procs

import (
	"os/exec"
	"testing"
	"time"
)

func TestReaperLeavesCommandsAlone(t *testing.T) {
	r, err := NewReaper()
	if err != nil {
		t.Skip(err)
	}
	defer r.Stop()
	cmd := exec.Command("sh", "-c", "exit 3")
	if err := r.Start(cmd); err != nil {
		t.Fatal(err)
	}
	// Give the loop several rounds to (wrongly) reap the exited command.
	time.Sleep(300 * time.Millisecond)
	err = r.Wait(cmd)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("Wait: %v, want exit status 3 (the reaper took it)", err)
	}
}

func TestReaperReapsOrphans(t *testing.T) {
	r, err := NewReaper()
	if err != nil {
		t.Skip(err)
	}
	defer r.Stop()
	// The shell leaves a short-lived orphan that becomes our child.
	cmd := exec.Command("sh", "-c", "sleep 0.2 & exit 0")
	if err := r.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(cmd); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		zombies := 0
		live := 0
		for _, p := range Children() {
			if p.State == "Z" {
				zombies++
			} else {
				live++
			}
		}
		if zombies == 0 && live == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d zombie and %d live children left", zombies, live)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProcessesSeesSelf(t *testing.T) {
	found := false
	for _, p := range Processes() {
		if p.PID > 0 && p.Cmdline != "" && p.State != "" {
			found = true
		}
	}
	if !found {
		t.Fatal("no process with a pid, state and command line")
	}
}
