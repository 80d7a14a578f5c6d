#!/bin/sh
# Installs runts from this directory under a prefix (default /usr/local):
#   PREFIX/bin/runts                              the launcher
#   PREFIX/lib/runts/{deno,runts.js,cache/}       the pinned Deno and the bundled runts
#   PREFIX/share/man/man8/runts*.8                man pages
#   PREFIX/share/bash-completion/completions/runts
#   PREFIX/lib/runts/uninstall.sh                 removes exactly what was installed
# Usage: ./install.sh [--prefix DIR]     ./install.sh --uninstall [--prefix DIR]
set -eu
prefix=${PREFIX:-/usr/local}
uninstall=
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument \"$1\"; see './install.sh --help'" >&2; exit 1 ;;
  esac
done
case $prefix in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute path, not \"$prefix\"" >&2; exit 1 ;;
esac
if [ -n "$uninstall" ]; then
  if [ ! -x "$prefix/lib/runts/uninstall.sh" ]; then
    echo "install.sh: runts is not installed under $prefix (no $prefix/lib/runts/uninstall.sh)" >&2
    exit 1
  fi
  exec "$prefix/lib/runts/uninstall.sh"
fi
here=$(cd "$(dirname "$0")" && pwd)
files="bin/runts lib/runts/deno lib/runts/runts.js share/bash-completion/completions/runts"
for m in "$here"/share/man/man8/*.8; do files="$files share/man/man8/${m##*/}"; done
for f in $files; do
  mkdir -p "$prefix/$(dirname "$f")"
  cp "$here/$f" "$prefix/$f.runts-new"
  mv "$prefix/$f.runts-new" "$prefix/$f"
done
chmod 755 "$prefix/bin/runts" "$prefix/lib/runts/deno"
mkdir -p "$prefix/lib/runts/cache"
chmod 700 "$prefix/lib/runts/cache"
{
  echo "#!/bin/sh"
  echo "# Removes runts from $prefix (written by install.sh)."
  for f in $files; do echo "rm -f '$prefix/$f'"; done
  echo "rm -rf '$prefix/lib/runts/cache'"
  echo "rm -f '$prefix/lib/runts/uninstall.sh'"
  echo "rmdir '$prefix/lib/runts' 2>/dev/null || true"
  echo "echo 'runts removed from $prefix'"
} > "$prefix/lib/runts/uninstall.sh"
chmod 755 "$prefix/lib/runts/uninstall.sh"
echo "runts installed: $prefix/bin/runts (remove with $prefix/lib/runts/uninstall.sh)"
