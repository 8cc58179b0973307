#!/usr/bin/env bash
# Runs the systemd cgroup driver's tests (./libbarco/cgroups/systemd) against
# a real systemd and D-Bus system bus: in the pure cgroup v2 guest of
# tests/vm/run-in-vm.sh, systemd-guest.sh starts systemd as the init of
# a container and the test binary runs in its namespaces.
#
#   tests/vm/run-systemd.sh [GO TEST FLAGS...]     e.g. -test.run Update
#
# Environment: BARCO_VM_RUNNER (path of run-in-vm.sh), BARCO_VM_TEST_TIMEOUT
# (seconds for the guest run, default 600), GO.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
runner=${BARCO_VM_RUNNER:-$root/tests/vm/run-in-vm.sh}
timeout=${BARCO_VM_TEST_TIMEOUT:-600}
out=$root/tests/.cache/vm-systemd
go=${GO:-go}

[[ -x $runner ]] || { echo "run-systemd.sh: $runner not found (set BARCO_VM_RUNNER)" >&2; exit 125; }
[[ -x /lib/systemd/systemd && -x /usr/bin/dbus-daemon ]] || {
	echo "run-systemd.sh: the guest uses the host's systemd and dbus-daemon; install systemd and dbus" >&2
	exit 125
}

mkdir -p "$out"
cd "$root"
echo "run-systemd.sh: building ./libbarco/cgroups/systemd -> tests/.cache/vm-systemd/systemd.test" >&2
"$go" test -c -o "$out/systemd.test" ./libbarco/cgroups/systemd
# The engine end to end: barco --systemd-cgroup with the repo's binary.
"$go" test -c -o "$out/engine.test" ./tests/systemd
"$root/tests/rootfs/build.sh" "$out/rootfs" >/dev/null
export BARCO_BINARY=$root/bin/barco BARCO_ROOTFS=$out/rootfs

args=(-test.v -test.count=1 -test.timeout "$((timeout - 60))s" "$@")
# The guest shares the working directory: the repository root, so that
# everything below it is reachable wherever the checkout lives.
cd "$root"
echo "run-systemd.sh: booting the cgroup v2 guest (timeout ${timeout}s)" >&2
exec "$runner" --timeout "$timeout" -- tests/vm/systemd-guest.sh sh -c 'cd tests/.cache/vm-systemd && { ./systemd.test "$@"; a=$?; ./engine.test "$@"; b=$?; [ $a = 0 ] && [ $b = 0 ]; }' tests "${args[@]}"
