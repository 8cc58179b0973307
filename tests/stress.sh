#!/usr/bin/env bash
# make stress: the long variants of the concurrency, fault and fuzz tests,
# repeated, with the figures at the end. Needs root (real containers).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${STRESS_ROUNDS:-3}
fuzztime=${FUZZTIME:-200000x} # a count, not a duration: see the Makefile's fuzz
log=$(mktemp /tmp/barco-stress.XXXXXX)
trap 'rm -f "$log"' EXIT

status=0
BARCO_BINARY=$PWD/bin/barco BARCO_ROOTFS=$PWD/tests/.cache/rootfs \
	go test -count="$rounds" -v -timeout 60m \
	-run 'TestConcurrentLifecycles|TestCreateKilled|TestInitDiesBeforeStart|TestPIDReusedByStranger|TestFullDiskWhileWritingState' \
	./tests/integration/ 2>&1 | tee "$log" || status=1
make --no-print-directory fuzz FUZZTIME="$fuzztime" 2>&1 | tee -a "$log" || status=1

containers=$(grep -oE '[0-9]+ containers created, started, stopped and deleted' "$log" | awk '{s+=$1} END {print s+0}')
faults=$(grep -oE '[0-9]+ creates killed' "$log" | awk '{s+=$1} END {print s+0}')
faults=$((faults + $(grep -c -- '--- PASS: TestInitDiesBeforeStart\|--- PASS: TestPIDReusedByStranger\|--- PASS: TestFullDiskWhileWritingState' "$log" || true)))
leaks=$(grep -ciE 'left behind|still holds|leftover|still alive after' "$log" || true)
echo
echo "stress: containers handled: $containers, faults injected: $faults, leaks found: $leaks"
[[ $leaks == 0 ]] || status=1
exit $status
