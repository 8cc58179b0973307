package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
)

// knownBad is a failure that a correct runtime cannot avoid, because of the
// suite's own code or of this project's cgroup v2 only design. Each reason
// names what in the suite makes the check impossible. A barco bug never
// belongs here: it is a failure to fix.
type knownBad struct {
	Test string
	// Assertion is the failing assertion's description, exactly as the
	// TAP line has it; "" excuses every failure of the program, its exit
	// status included.
	Assertion string
	Reason    string
}

// cgroupV1Only is why the cgroup programs cannot pass against a cgroup v2
// runtime. Their checks go through the suite's cgroups.FindCgroup, which
// returns the first v1 ("cgroup") mount in mountinfo and otherwise fails
// with "cgroupv2 is not supported yet"; all readers (cgroups_v1.go) read v1
// files such as <mount>/pids/<path>/pids.max. barco puts containers in the
// cgroup2 hierarchy only, and on a host whose cgroup2 lacks a controller it
// refuses the limit at create ("controller not available"), as it must.
const cgroupV1Only = "the suite reads cgroup v1 files only (cgroups.FindCgroup takes the first v1 mount or fails with " +
	"\"cgroupv2 is not supported yet\"); barco is cgroup v2 only and refuses limits whose controller its cgroup2 mount lacks"

// knownBadList is every known-bad failure of the pinned suite version.
var knownBadList = []knownBad{
	{Test: "linux_cgroups_blkio", Reason: cgroupV1Only},
	{Test: "linux_cgroups_cpus", Reason: cgroupV1Only},
	{Test: "linux_cgroups_devices", Reason: cgroupV1Only},
	{Test: "linux_cgroups_hugetlb", Reason: cgroupV1Only},
	{Test: "linux_cgroups_memory", Reason: cgroupV1Only},
	{Test: "linux_cgroups_network", Reason: cgroupV1Only},
	// Besides reading v1, ValidateLinuxResourcesPids compares two *int64
	// (lpd.Limit == config.Linux.Resources.Pids.Limit): since runtime-spec
	// 1.3 LinuxPids.Limit is a pointer, and two pointers to different
	// allocations are never equal.
	{Test: "linux_cgroups_pids", Reason: cgroupV1Only + "; its pids check compares two *int64 pointers, never equal"},
	{Test: "linux_cgroups_relative_blkio", Reason: cgroupV1Only},
	{Test: "linux_cgroups_relative_cpus", Reason: cgroupV1Only},
	{Test: "linux_cgroups_relative_devices", Reason: cgroupV1Only},
	{Test: "linux_cgroups_relative_hugetlb", Reason: cgroupV1Only},
	{Test: "linux_cgroups_relative_memory", Reason: cgroupV1Only},
	{Test: "linux_cgroups_relative_network", Reason: cgroupV1Only},
	{Test: "linux_cgroups_relative_pids", Reason: cgroupV1Only + "; its pids check compares two *int64 pointers, never equal"},
	// delete_resources sets a pids limit under /cgrouptest, checks it
	// with ValidateLinuxResourcesPids and then looks for
	// /sys/fs/cgroup/pids/cgrouptest: a cgroup program in disguise.
	{Test: "delete_resources", Reason: cgroupV1Only + "; it checks the pids limit through the same v1 reader and *int64 comparison"},
	// Go's syscall package raises the soft RLIMIT_NOFILE of every Go
	// program to hard-1 at start-up (syscall/rlimit.go, Go 1.19 and later),
	// and runtimetest is a Go program: it sees 3999, not the 3000 the
	// runtime set.
	{Test: "process_rlimits", Assertion: "has expected soft RLIMIT_NOFILE", Reason: "runtimetest is a Go program and Go raises its soft RLIMIT_NOFILE to hard-1 at start-up"},
	// hooks compares the hooks' output with "pre-start1 called\npre-start2
	// called\npost-start1\npost-start2\n...", while its own hooks write
	// "post-start1 called": the strings can never match. It reports this
	// as a YAML error, without an assertion.
	{Test: "hooks", Assertion: "error: Hooks MUST be called in the listed order", Reason: "the expected output lacks the \" called\" its own poststart and poststop hooks write: it can never match"},
	// prestart fails when the prestart hook has run by the time create
	// returns. runtime-spec 1.3 (config.md#prestart) says prestart hooks
	// MUST be called as part of create, before pivot_root: the check is
	// from the 1.0 spec, where they ran at start.
	{Test: "prestart", Assertion: "error: Pre-start hooks MUST be called after the `start` operation is called", Reason: "runtime-spec 1.3 calls prestart hooks during create, the check follows the 1.0 spec that ran them at start"},
	// poststart_fail wants start to succeed when a poststart hook fails.
	// runtime-spec 1.3 (runtime.md, lifecycle step 9) says the runtime
	// MUST generate an error and stop the container; the warning rule is
	// the 1.0 spec's.
	{Test: "poststart_fail", Assertion: "error: if any poststart hook fails, the runtime MUST log a warning, but the remaining hooks and lifecycle continue as if the hook had succeeded", Reason: "runtime-spec 1.3 requires an error when a poststart hook fails; the check follows the 1.0 spec"},
	// pidfile runs "true", waits until the state says running, then kills
	// the container and fails if the kill fails. "true" has exited before
	// the first poll, and killing a stopped container MUST generate an
	// error (runtime.md#kill); it passes only if the first poll wins a race.
	{Test: "pidfile", Assertion: "create with '--pid-file' option works", Reason: "it kills a container whose \"true\" has already exited, which runtime-spec says MUST fail; only a lost race makes it pass"},
	// misc_props' unknown-annotation case runs the default process,
	// /runtimetest, but never copies runtimetest into the bundle. A runtime
	// that resolves process.args[0] at create, as barco and runc do, fails
	// for that reason, whatever it thinks of the annotation (barco accepts
	// unknown annotations).
	{Test: "misc_props", Assertion: "implementations that are reading/processing this configuration file MUST NOT generate an error if they encounter an unknown annotation key", Reason: "its config runs /runtimetest, which it never puts in the bundle"},
	// linux_process_apparmor_profile asks for the profile
	// "acme_secure_profile", loaded nowhere, and needs create to succeed.
	// On a host without AppArmor (this one) the profile cannot be applied,
	// and runtime.md#create says the runtime MUST then generate an error.
	{Test: "linux_process_apparmor_profile", Reason: "it needs an AppArmor profile that is loaded nowhere, on a host without AppArmor; runtime-spec requires an error then"},
	// start's last case creates a container without a process and then
	// asserts `err == nil` for the start that runtime.md#start says MUST
	// fail: the condition is inverted. barco's start fails, as the spec
	// asks, so the assertion fails, and the container stays created
	// (waiting for a stopped status then times out).
	{Test: "start", Assertion: "`start` operation MUST generate an error if `process` was not set", Reason: "its condition is inverted (err == nil) for a start that the spec says MUST fail"},
	{Test: "start", Assertion: "timeout in waiting for the container status", Reason: "follows from the inverted check above: a start that fails leaves the container created, never stopped"},
	// poststart wants the process's own output written before the hook's.
	// The spec orders the hook after the process is started (execve);
	// whether the shell has written its line by then is a race between two
	// processes that the runtime does not control.
	{Test: "poststart", Assertion: "error: The post-start hooks MUST be called after the user-specified process is executed", Reason: "it needs the process to have written its output before the hook runs, a race the spec does not order (the hook only follows the process's execve)"},
	// delete of a container that is `created` (not yet started): barco,
	// like runc, tears it down without --force, because containerd's runc
	// shim deletes created-but-never-started tasks without --force and
	// would otherwise leak them. This is a deliberate compatibility choice,
	// not a suite bug: the two assertions check runtime.md#delete literally.
	{Test: "delete", Assertion: "attempting to `delete` a container that is not `stopped` MUST generate an error", Reason: "deliberate runc compatibility: a created container is deleted without --force, as containerd's shim expects"},
	{Test: "delete", Assertion: "attempting to `delete` a container that is not `stopped` MUST have no effect on the container", Reason: "deliberate runc compatibility: a created container is deleted without --force, as containerd's shim expects"},
}

// excluded lists programs that are never run, and why.
var excluded = map[string]string{
	// It creates /sys/fs/cgroup/pids/cgrouptest and writes the container's
	// pid into its tasks file.
	"delete_only_create_resources": "it writes into the host's cgroup v1 pids hierarchy",
}

// matchKnownBad returns the index of the entry that excuses a failure of
// test with description desc, or -1.
func matchKnownBad(list []knownBad, test, desc string) int {
	for i, kb := range list {
		if kb.Test == test && (kb.Assertion == "" || kb.Assertion == desc) {
			return i
		}
	}
	return -1
}

// capSets are the capability sets runtimetest checks, as its assertions
// name them ("expected bounding capability CAP_CHOWN set").
var capSets = []string{"bounding", "effective", "inheritable", "permitted", "ambient"}

// ungrantableCapabilities returns the known-bad entries for capabilities
// that the runner's own bounding set lacks (this machine's sandbox drops
// CAP_SYS_RESOURCE, for one). A process can never gain a capability
// missing from its bounding set, so no runtime started from here can give
// it to a container, and runtime-spec 1.3 asks for a warning, not an
// error, in that case. status is the content of /proc/self/status.
func ungrantableCapabilities(status string, known []capability.Cap) ([]knownBad, error) {
	var bounding uint64
	found := false
	for _, line := range strings.Split(status, "\n") {
		if hex, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("parse CapBnd %q: %w", hex, err)
			}
			bounding, found = v, true
		}
	}
	if !found {
		return nil, errors.New("no CapBnd line in the process status")
	}
	var list []knownBad
	for _, c := range known {
		if c > 63 || bounding&(1<<uint(c)) != 0 {
			continue
		}
		name := "CAP_" + strings.ToUpper(c.String())
		for _, set := range capSets {
			list = append(list, knownBad{
				Test:      "process_capabilities",
				Assertion: fmt.Sprintf("expected %s capability %s set", set, name),
				Reason:    name + " is not in the bounding set of the runner itself, so no runtime it starts can grant it",
			})
		}
	}
	return list, nil
}
