package libbarco

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
)

// process.execCPUAffinity, for a process started by exec. The process is
// cloned straight into the container's cgroup (CLONE_INTO_CGROUP), so the
// runtime's part before that entry is the thread that clones it: that
// thread runs on the initial CPUs while it does, and the child starts with
// them unless the kernel gives it the CPUs of the cgroup's cpuset. The
// final CPUs are set on the process before it receives its plan or
// bootstrap, so before it execs. Without final CPUs the process keeps what
// it had on entering the cgroup, as the spec asks.

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	set.Zero()
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// withInitialAffinity runs start on this thread (locked by the caller)
// with the initial CPUs of a, and gives the thread its own CPUs back.
func withInitialAffinity(a *configs.CPUAffinity, start func() error) error {
	if a == nil || len(a.Initial) == 0 {
		return start()
	}
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		return fmt.Errorf("process.execCPUAffinity.initial: get own CPUs: %w", err)
	}
	if err := unix.SchedSetaffinity(0, cpuSet(a.Initial)); err != nil {
		return fmt.Errorf("process.execCPUAffinity.initial: %w", err)
	}
	// The thread's own CPUs were valid a moment ago.
	defer func() { _ = unix.SchedSetaffinity(0, &own) }()
	return start()
}

// setFinalAffinity puts process pid on the final CPUs of a.
func setFinalAffinity(pid int, a *configs.CPUAffinity) error {
	if a == nil || len(a.Final) == 0 {
		return nil
	}
	if err := unix.SchedSetaffinity(pid, cpuSet(a.Final)); err != nil {
		return fmt.Errorf("process.execCPUAffinity.final: %w", err)
	}
	return nil
}
