#!/usr/bin/env bash
# Runs host integration tests that need more than this host offers (a
# working CRIU on the guest's kernel, every cgroup v2 controller) inside the
# pure cgroup v2 guest of tests/vm/run-in-vm.sh.
#
#   tests/vm/run-integration.sh REGEXP     e.g. 'Checkpoint|Restore'
#
# Environment: BARCO_VM_RUNNER, BARCO_VM_TEST_TIMEOUT (default 900), GO.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
runner=${BARCO_VM_RUNNER:-$root/tests/vm/run-in-vm.sh}
timeout=${BARCO_VM_TEST_TIMEOUT:-900}
out=$root/tests/.cache/vm-integration
go=${GO:-go}
pattern=${1:?usage: run-integration.sh REGEXP}

[[ -x $root/bin/barco ]] || { echo "run-integration.sh: bin/barco is missing; run make build" >&2; exit 1; }
mkdir -p "$out"
cd "$root"
"$go" test -c -o "$out/integration.test" ./tests/integration
tests/rootfs/build.sh "$root/tests/.cache/rootfs" >/dev/null
# The guest shares the working directory: the repository root, so that
# bin/barco and the rootfs are reachable wherever the checkout lives.
cd "$root"
exec "$runner" --timeout "$timeout" \
	-e BARCO_BINARY="$root/bin/barco" -e BARCO_ROOTFS="$root/tests/.cache/rootfs" -- \
	tests/.cache/vm-integration/integration.test -test.v -test.count=1 -test.timeout "$((timeout - 60))s" -test.run "$pattern"
