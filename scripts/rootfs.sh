#!/usr/bin/env bash
# Builds DIR/rootfs (default DIR: <repo>/build/bundle) from Debian's busybox-static: /bin/busybox,
# one /bin/<applet> symlink per applet, proc sys dev tmp etc root, /etc/passwd and /etc/group.
# Idempotent: an existing rootfs whose busybox is the installed one is kept as it is; otherwise
# it is built beside and swapped in. config.json is not written here (scripts/demo.sh does it
# with `runts spec`; the tests write their own).
set -euo pipefail

here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
repo=$(cd "$here/.." && pwd -P)
dir=${1:-$repo/build/bundle}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
rootfs=$dir/rootfs
src=/bin/busybox

say() { echo "rootfs: $*"; }

if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q '^install ok installed$' ||
  [ ! -x "$src" ]; then
  echo "rootfs: the Debian package busybox-static is not installed; run scripts/setup.sh" >&2
  exit 1
fi

if [ -x "$rootfs/bin/busybox" ] && cmp -s "$src" "$rootfs/bin/busybox" &&
  [ -L "$rootfs/bin/sh" ] && [ -f "$rootfs/etc/passwd" ] && [ -f "$rootfs/etc/group" ]; then
  exit 0
fi

# Never delete through a mount (a container left behind would have its /proc, /dev... there).
if grep -qF " $rootfs" /proc/self/mountinfo; then
  echo "rootfs: something is still mounted under $rootfs; not rebuilding it" >&2
  exit 1
fi

new=$dir/.rootfs.new.$$
trap 'rm -rf "$new"' EXIT
rm -rf "$new"
mkdir -p "$new/bin"
cp "$src" "$new/bin/busybox"
chmod 0755 "$new/bin/busybox"
n=0
for applet in $("$new/bin/busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln -s busybox "$new/bin/$applet"
  n=$((n + 1))
done
[ -L "$new/bin/sh" ] || ln -s busybox "$new/bin/sh"
mkdir -p "$new/proc" "$new/sys" "$new/dev" "$new/etc" "$new/root" "$new/tmp"
chmod 1777 "$new/tmp"
chmod 0700 "$new/root"
cat >"$new/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$new/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
chmod 0644 "$new/etc/passwd" "$new/etc/group"

if [ -e "$rootfs" ]; then
  old=$dir/.rootfs.old.$$
  mv "$rootfs" "$old"
  mv "$new" "$rootfs"
  rm -rf "$old"
  say "rebuilt $rootfs (busybox changed or rootfs incomplete), $n applets"
else
  mv "$new" "$rootfs"
  say "built $rootfs with $n busybox applets"
fi
