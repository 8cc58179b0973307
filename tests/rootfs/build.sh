#!/usr/bin/env bash
# Builds a minimal busybox root filesystem for the integration tests and the
# demo. The result is reused until this script or the busybox binary changes,
# so calling it on every test run costs a stat and two checksums.
#
# usage: tests/rootfs/build.sh DEST
set -euo pipefail

dest=${1:?usage: $0 DEST}
busybox=${BUSYBOX:-/bin/busybox}

if [[ ! -x $busybox ]]; then
	echo "rootfs: $busybox not found; install the busybox-static package" >&2
	exit 1
fi

stamp="$(sha256sum "$0" "$busybox" | sha256sum | cut -d' ' -f1)"
if [[ -f $dest/.stamp && "$(cat "$dest/.stamp")" == "$stamp" ]]; then
	exit 0
fi

# Build beside the destination and swap it in, so an interrupted build never
# leaves a half-made rootfs that a later run would take for a good one.
parent=$(dirname "$dest")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.rootfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

chmod 755 "$tmp"
cd "$tmp"
mkdir -p bin sbin etc proc sys dev tmp root home/test var/tmp
chmod 1777 tmp var/tmp
chmod 700 root
chown 1000:1000 home/test

cp "$busybox" bin/busybox
for applet in $("$busybox" --list); do
	[[ $applet == busybox ]] && continue
	ln -sf busybox "bin/$applet"
done

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
test:x:1000:1000:test:/home/test:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD

cat > etc/group <<'GROUP'
root:x:0:
wheel:x:10:test
test:x:1000:
nogroup:x:65534:
GROUP

echo barco > etc/hostname
echo "$stamp" > .stamp

cd - > /dev/null
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
