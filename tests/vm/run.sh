#!/usr/bin/env bash
# Runs Go test packages inside a throw-away pure cgroup v2 guest
# (tests/vm/run-in-vm.sh), because the host's
# hybrid hierarchy lacks most cgroup v2 controllers.
#
#   tests/vm/run.sh [PACKAGE...]  default: ./libbarco/cgroups ./tests/cgroupv2
#
# The test binaries are built on the host (compiling under TCG is slow) into
# tests/.cache/vm/, which the guest mounts as its working directory, and all
# of them run in one guest boot.
#
# ./tests/cgroupv2 is the runtime-independent cgroup v2 validation: it runs
# once per runtime (RUNTIME=...), first barco (bin/barco, which must be
# built) and then, for comparison, every other runtime found. A second,
# short pass repeats its blockIO checks with the BFQ scheduler on the
# null_blk device, where weights go to io.bfq.weight. Only barco's results
# decide the exit status; a summary per runtime is printed at the end and
# the logs stay in tests/.cache/vm/cgroupv2-<runtime>.log.
#
# Environment:
#   BARCO_VM_RUNNER        path of run-in-vm.sh
#   BARCO_VM_TEST_TIMEOUT  seconds for the whole guest run (default 1200)
#   BARCO_VM_TEST_RUN      -test.run pattern, for every binary
#   BARCO_VM_RUNTIMES      other runtimes for ./tests/cgroupv2 as NAME=PATH
#                          words (default: runc and crun, if installed)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
runner=${BARCO_VM_RUNNER:-$root/tests/vm/run-in-vm.sh}
timeout=${BARCO_VM_TEST_TIMEOUT:-1200}
out=$root/tests/.cache/vm
go=${GO:-go}

[[ -x $runner ]] || { echo "run.sh: $runner not found (set BARCO_VM_RUNNER)" >&2; exit 125; }
(($# > 0)) || set -- ./libbarco/cgroups ./tests/cgroupv2

if [[ -z ${BARCO_VM_RUNTIMES+set} ]]; then
	BARCO_VM_RUNTIMES=
	for rt in runc crun; do
		if p=$(command -v "$rt"); then
			BARCO_VM_RUNTIMES+=" $rt=$p"
		fi
	done
fi

mkdir -p "$out"
rm -f "$out"/*.test "$out"/cgroupv2-*.log "$out"/status
cd "$root"
run=${BARCO_VM_TEST_RUN:+' -test.run "$BARCO_VM_TEST_RUN"'}
per=$((timeout - 60))s

# One guest command for all binaries: null_blk gives the io.max tests a block
# device (the guest has only 9p filesystems); each binary runs even if an
# earlier one failed, and the worst status of the required runs is returned.
cmd='cd tests/.cache/vm || exit 125; modprobe null_blk nr_devices=1 >/dev/null 2>&1; rc=0'
cgroupv2=
for pkg in "$@"; do
	bin=$(basename "$pkg").test
	echo "run.sh: building $pkg -> tests/.cache/vm/$bin" >&2
	"$go" test -c -o "$out/$bin" "$pkg"
	if [[ $pkg == ./tests/cgroupv2 || $pkg == tests/cgroupv2 ]]; then
		cgroupv2=$bin
		continue
	fi
	cmd+="; echo '=== binary $bin'; ./$bin -test.v -test.count=1 -test.timeout $per$run || rc=\$?"
done

if [[ -n $cgroupv2 ]]; then
	[[ -x $root/bin/barco ]] || { echo "run.sh: bin/barco is missing; run make build" >&2; exit 1; }
	echo "run.sh: building the busybox rootfs -> tests/.cache/rootfs" >&2
	tests/rootfs/build.sh "$root/tests/.cache/rootfs"
	# label, RUNTIME, required (1: its failure fails the run)
	v2run() {
		cmd+="; echo '=== binary $cgroupv2 with RUNTIME=$2'"
		cmd+="; RUNTIME=$2 BARCO_ROOTFS=$root/tests/.cache/rootfs ./$cgroupv2 -test.v -test.count=1 -test.timeout $per$run 2>&1 | tee cgroupv2-$1.log"
		cmd+="; st=\${PIPESTATUS[0]}; echo \"$1 \$st $3\" >> status"
		[[ $3 == 1 ]] && cmd+="; [ \$st = 0 ] || rc=\$st"
		return 0
	}
	v2run barco "$root/bin/barco" 1
	for rt in $BARCO_VM_RUNTIMES; do
		v2run "${rt%%=*}" "${rt#*=}" 0
	done
	if [[ -z ${BARCO_VM_TEST_RUN:-} ]]; then
		run=" -test.run TestResources/blockIO"
		cmd+="; if modprobe bfq 2>/dev/null && echo bfq > /sys/block/nullb0/queue/scheduler; then :"
		v2run barco+bfq "$root/bin/barco" 1
		for rt in $BARCO_VM_RUNTIMES; do
			v2run "${rt%%=*}+bfq" "${rt#*=}" 0
		done
		cmd+="; else echo 'run.sh: no bfq in the guest, its pass is left out'; fi"
	fi
fi
cmd+='; exit $rc'

# The guest shares the working directory: the repository root, so that
# bin/barco and the rootfs are reachable wherever the checkout lives (the
# guest sees the host's /tmp only through this share).
cd "$root"
echo "run.sh: booting the cgroup v2 guest (timeout ${timeout}s)" >&2
set +e
"$runner" --timeout "$timeout" -e BARCO_VM_TEST_RUN -- "$cmd"
rc=$?
# 124: the guest stopped making progress before the tests gave a verdict
# (seen once under TCG: both virtual CPUs busy, no output, not even the
# test binary's own timeout). That is the emulator's, not a test result:
# boot once more, from clean logs. A test that hangs by itself fails its
# own -test.timeout first, and a second hang still fails the run.
if ((rc == 124)); then
	echo "run.sh: the guest hung without a verdict; booting it once more" >&2
	rm -f "$out"/cgroupv2-*.log "$out"/status
	"$runner" --timeout "$timeout" -e BARCO_VM_TEST_RUN -- "$cmd"
	rc=$?
fi
set -e
cd "$out"

# The summary: one line per cgroupv2 run, with the tests that failed.
if [[ -n $cgroupv2 && -f status ]]; then
	echo
	echo "cgroup v2 validation (tests/cgroupv2), per runtime:"
	while read -r label st required; do
		log=cgroupv2-$label.log
		pass=$(grep -c -- '--- PASS' "$log" || true)
		fail=$(grep -c -- '--- FAIL' "$log" || true)
		skip=$(grep -c -- '--- SKIP' "$log" || true)
		verdict=ok
		[[ $st == 0 ]] || verdict=FAIL
		[[ $required == 1 ]] || verdict+=" (informational)"
		printf '  %-12s %-20s pass %3d  fail %3d  skip %3d\n' "$label" "$verdict" "$pass" "$fail" "$skip"
		grep -- '--- FAIL' "$log" | sed 's/^ *--- FAIL: /      failed: /' || true
	done < status
fi
exit $rc
