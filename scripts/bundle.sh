#!/bin/bash
# Bundles main.ts into build/runts/ (main.js plus one file per command and chunks shared between
# commands: `deno bundle --code-splitting`), which bin/runts runs while no source is newer.
# A command then loads only its own code; one file of everything took longer to load.
#
# Safe while runts commands run: the new files are written beside the old ones (chunk names
# carry a hash of their content), main.js is replaced last with a rename, and a file the new
# bundle no longer uses is removed only when no process started before the rename runs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/build/runts
tmp=$repo/build/runts.tmp.$$
trap 'rm -rf "$tmp"' EXIT
deno=${DENO:-$repo/.deno/bin/deno}
mkdir -p "$tmp"
stamp=$tmp/.stamp
: >"$stamp"
DENO_DIR=${DENO_DIR:-$repo/.deno/cache} "$deno" bundle --quiet --code-splitting \
  --outdir "$tmp" "$repo/main.ts"
# `deno run` builds its module graph before running anything, and that graph takes in every
# import() whose specifier is a plain string: the command table's import() of each command made
# every command read and analyse the whole bundle (1.4 MB) at start, ~8 ms of `runts state`.
# Wrapped in String(), a specifier is loaded when the import() runs and not before. (The
# bundler still needs the plain form in the sources to split them, so the wrapping is done here.)
sed -i -E 's/\bimport\("(\.\/[^"]+\.js)"\)/import(String("\1"))/g' "$tmp"/*.js
if grep -qE '\bimport\("' "$tmp"/*.js; then
  echo "bundle: an import() the rewrite above did not take:" >&2
  grep -nE '\bimport\("' "$tmp"/*.js >&2
  exit 1
fi
grep -q 'import(String("./state-' "$tmp"/*.js || {
  echo "bundle: the command table's import() of state not found (bundler output changed?)" >&2
  exit 1
}
# Every file parses, and sources.sh lists what the bundle was made from (scripts/bundle_meta.ts).
DENO_DIR=${DENO_DIR:-$repo/.deno/cache} "$deno" run --quiet --no-config --no-lock -A \
  "$repo/scripts/bundle_meta.ts" "$tmp" "$repo"
# main.js dated from before the bundler read the sources: a source saved meanwhile is newer.
touch -r "$stamp" "$tmp/main.js"
rm -f "$stamp"
mkdir -p "$out"
declare -A new=()
for f in "$tmp"/*; do
  n=${f##*/}
  new[$n]=1
  [ "$n" = main.js ] || mv -f "$f" "$out/$n"
done
mv -f "$tmp/main.js" "$out/main.js"
# Files of earlier bundles stay while a process that started before main.js was replaced runs
# this directory's code: it may still import them (a sandbox process lives as long as its
# container and loads the systemd, seccomp or KVM code only when asked).
hz=$(getconf CLK_TCK)
read -r up _ </proc/uptime
swapped=$(( ${up%.*} * hz + 10#${up#*.} * hz / 100 ))
for d in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
  case $cmd in *"$out/main.js"*) ;; *) continue ;; esac
  read -r stat 2>/dev/null <"$d/stat" || continue
  rest=${stat##*) }
  read -ra field <<<"$rest"
  # field[19] is starttime (the 22nd field of /proc/PID/stat), in clock ticks since boot
  if [ "${field[19]:-0}" -lt "$swapped" ]; then exit 0; fi
done
for f in "$out"/*; do
  n=${f##*/}
  [ -n "${new[$n]:-}" ] || rm -f "$f"
done
