#!/usr/bin/env bash
# Builds a Debian bookworm rootfs that boots systemd as PID 1 (systemd, systemd-sysv, dbus;
# debootstrap --variant=minbase), for the systemd cgroup driver's tests:
#   bash scripts/systemd_rootfs.sh [DIR [EXTRA_PACKAGE,...]]     (default build/systemd-rootfs)
# A finished rootfs carries DIR/.runts-complete and is reused; a half-built one is removed and
# built again. Installs debootstrap through scripts/setup.sh when it is missing. Needs root and
# Debian's mirror (DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
repo=$(cd "$here/.." && pwd -P)
dir=${1:-$repo/build/systemd-rootfs}
extra=${2:+,$2}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

mkdir -p "$(dirname "$dir")"
# One build at a time (two test runs may start together); the second then finds it ready.
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/.runts-complete" ]; then
  echo "systemd-rootfs: $dir is ready"
  exit 0
fi
command -v debootstrap >/dev/null || bash "$repo/scripts/setup.sh" debootstrap
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
echo "systemd-rootfs: debootstrap bookworm into $dir (a few minutes)"
debootstrap --variant=minbase --include="systemd,systemd-sysv,dbus$extra" bookworm "$dir" "$mirror" \
  >"$dir.log" 2>&1 || {
  echo "systemd-rootfs: debootstrap failed, see $dir.log" >&2
  exit 1
}
# No getty or other units that wait for a console; the tests talk to systemd through its bus.
rm -f "$dir"/etc/systemd/system/getty.target.wants/* || true
ln -sf /dev/null "$dir/etc/systemd/system/systemd-networkd-wait-online.service"
ln -sf /dev/null "$dir/etc/systemd/system/console-getty.service"
echo "runts-systemd" >"$dir/etc/hostname"
rm -rf "$dir"/var/cache/apt/archives/*.deb
touch "$dir/.runts-complete"
echo "systemd-rootfs: $dir is ready"
