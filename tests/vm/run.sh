#!/usr/bin/env bash
# Runs Go test packages inside a throw-away pure cgroup v2 guest
# (../shared/vm/run-in-vm.sh beside the repository), because the host's
# hybrid hierarchy lacks most cgroup v2 controllers.
#
#   tests/vm/run.sh [PACKAGE...]      default: ./libbarco/cgroups
#
# The test binaries are built on the host (compiling under TCG is slow) into
# tests/.cache/vm/, which the guest mounts as its working directory, and all
# of them run in one guest boot. Environment:
#   BARCO_VM_RUNNER        path of run-in-vm.sh
#   BARCO_VM_TEST_TIMEOUT  seconds for the whole guest run (default 900)
#   BARCO_VM_TEST_RUN      -test.run pattern
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
runner=${BARCO_VM_RUNNER:-$root/../shared/vm/run-in-vm.sh}
timeout=${BARCO_VM_TEST_TIMEOUT:-900}
out=$root/tests/.cache/vm
go=${GO:-go}

[[ -x $runner ]] || { echo "run.sh: $runner not found (set BARCO_VM_RUNNER)" >&2; exit 125; }
(($# > 0)) || set -- ./libbarco/cgroups

mkdir -p "$out"
rm -f "$out"/*.test
bins=()
cd "$root"
for pkg in "$@"; do
	bin=$(basename "$pkg").test
	echo "run.sh: building $pkg -> tests/.cache/vm/$bin" >&2
	"$go" test -c -o "$out/$bin" "$pkg"
	bins+=("$bin")
done

# One guest command for all binaries: null_blk gives the io.max tests a block
# device (the guest has only 9p filesystems); each binary runs even if an
# earlier one failed, and the worst status is returned.
run=${BARCO_VM_TEST_RUN:+' -test.run "$BARCO_VM_TEST_RUN"'}
cmd='modprobe null_blk nr_devices=1 >/dev/null 2>&1; rc=0'
for bin in "${bins[@]}"; do
	cmd+="; echo '=== binary $bin'; ./$bin -test.v -test.count=1 -test.timeout $((timeout - 60))s$run || rc=\$?"
done
cmd+='; exit $rc'

cd "$out"
echo "run.sh: booting the cgroup v2 guest (timeout ${timeout}s)" >&2
exec "$runner" --timeout "$timeout" -e BARCO_VM_TEST_RUN -- "$cmd"
