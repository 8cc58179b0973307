#!/usr/bin/env bash
# Runs inside the pure cgroup v2 guest (see run-systemd.sh): starts a real
# systemd as the init of a new pid, mount and cgroup namespace, with its own
# D-Bus system bus, and then runs COMMAND inside that systemd's namespaces,
# where the system bus and the cgroup tree look as they do on a host booted
# with systemd.
#
#   systemd-guest.sh COMMAND [ARGS...]
#
# The guest's own init is busybox, so systemd cannot be PID 1 of the guest;
# as the init of a container it needs only a delegated cgroup subtree, which
# the guest's root cgroup gives it.
set -euo pipefail

cg=/sys/fs/cgroup
sdcg=$cg/barco-systemd   # systemd's cgroup namespace root
testcg=$sdcg/barco-test  # where COMMAND runs, beside systemd's own units
units=/tmp/barco-systemd-units
log=${BARCO_SYSTEMD_LOG:-/tmp/barco-systemd.log}

mkdir -p "$sdcg" "$units"

# systemd only starts barco-test.target: the D-Bus system bus and nothing
# else. Units in /run/systemd/system win over the host's /lib ones, and
# DefaultDependencies=no keeps sysinit.target (udev, journald, ...) away.
cat > "$units/barco-test.target" <<'UNIT'
[Unit]
Description=barco systemd driver tests
Wants=dbus.socket dbus.service
UNIT
cat > "$units/dbus.socket" <<'UNIT'
[Unit]
Description=D-Bus System Message Bus Socket
DefaultDependencies=no
[Socket]
ListenStream=/run/dbus/system_bus_socket
UNIT
cat > "$units/dbus.service" <<'UNIT'
[Unit]
Description=D-Bus System Message Bus
DefaultDependencies=no
Requires=dbus.socket
After=dbus.socket
[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --nosyslog
UNIT

# The inner shell becomes PID 1 of the new pid namespace, moves itself into
# $sdcg, makes that the root of a new cgroup namespace, mounts a cgroup2 view
# of it and a private /run, and execs systemd (keeping PID 1).
unshare --pid --fork --mount --mount-proc --propagation private -- sh -c '
	set -e
	mount -t tmpfs -o mode=0755 tmpfs /run
	mkdir -p /run/systemd/system
	cp '"$units"'/* /run/systemd/system/
	echo $$ > '"$sdcg"'/cgroup.procs
	exec unshare --cgroup -- sh -c "umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec env container=barco /lib/systemd/systemd --unit=barco-test.target --log-target=console --log-level=${BARCO_SYSTEMD_LOGLEVEL:-info} --show-status=no"
' > "$log" 2>&1 &
outer=$!

cleanup() {
	kill "$outer" 2>/dev/null || true
}
trap cleanup EXIT

# The PID of systemd, as the guest sees it: the only child of the unshare.
sd=
for _ in $(seq 1 600); do
	sd=$(awk '{print $1}' /proc/$outer/task/$outer/children 2>/dev/null || true)
	[[ -n $sd ]] && [[ -S /proc/$sd/root/run/dbus/system_bus_socket ]] && break
	sleep 0.1
done
if [[ -z $sd ]] || [[ ! -S /proc/$sd/root/run/dbus/system_bus_socket ]]; then
	echo "systemd-guest.sh: systemd did not bring up the system bus; its log:" >&2
	cat "$log" >&2
	exit 125
fi

# COMMAND runs in a cgroup of its own inside systemd's tree: with nsdelegate a
# process outside systemd's cgroup namespace could not be moved into a scope.
mkdir -p "$testcg"
echo $$ > "$testcg/cgroup.procs"
rc=0
nsenter -t "$sd" -m -p -C --wdns="$PWD" -- env BARCO_SYSTEMD_TEST=1 "$@" || rc=$?
if ((rc != 0)); then
	echo "systemd-guest.sh: command failed ($rc); systemd log:" >&2
	tail -50 "$log" >&2
fi
echo $$ > "$cg/cgroup.procs"
exit $rc
