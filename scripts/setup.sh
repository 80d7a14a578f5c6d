#!/usr/bin/env bash
# Installs what runts needs to build, test and run from source, idempotently:
#   - Deno, pinned, from the npm package `deno` into <repo>/.deno (bin/deno is the real binary)
#   - Debian packages: busybox-static (the test and demo rootfs), uidmap (rootless id maps)
# Extra Debian packages: `scripts/setup.sh bench` (runc crun hyperfine), any other argument is
# a package name, and RUNTS_SETUP_APT="pkg ..." adds more. Prints one line per action; a warm
# machine does nothing but check.
set -euo pipefail

DENO_VERSION=2.9.6
here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
repo=$(cd "$here/.." && pwd -P)
prefix="$repo/.deno"

say() { echo "setup: $*"; }

# --- Deno ------------------------------------------------------------------------------------
deno_ok() {
  [ -x "$prefix/bin/deno" ] &&
    [ "$("$prefix/bin/deno" --version 2>/dev/null | head -n1 | cut -d' ' -f2)" = "$DENO_VERSION" ]
}

find_real() {
  for p in "$prefix/node_modules/@deno/linux-x64-glibc/deno" "$prefix/node_modules/deno/deno"; do
    if [ -x "$p" ] && [ "$("$p" --version 2>/dev/null | head -n1 | cut -d' ' -f2)" = "$DENO_VERSION" ]; then
      echo "$p"
      return
    fi
  done
}

if ! deno_ok; then
  real=$(find_real)
  if [ -z "$real" ]; then
    say "installing deno $DENO_VERSION from npm into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error \
      "deno@$DENO_VERSION" >/dev/null
    real=$(find_real)
  fi
  if [ -z "$real" ]; then
    echo "setup: the npm package deno@$DENO_VERSION holds no deno binary for this machine" >&2
    exit 1
  fi
  mkdir -p "$prefix/bin"
  ln -sfn "../${real#"$prefix/"}" "$prefix/bin/deno" # relative: the tree may be moved
  if ! deno_ok; then
    echo "setup: $prefix/bin/deno does not report version $DENO_VERSION" >&2
    exit 1
  fi
  say "deno $DENO_VERSION at $prefix/bin/deno -> $real"
fi

# --- Debian packages -------------------------------------------------------------------------
want=(busybox-static uidmap) # uidmap: newuidmap/newgidmap, for rootless mappings and their tests
for a in "$@"; do
  case $a in
    bench) want+=(runc crun hyperfine) ;;
    *) want+=("$a") ;;
  esac
done
# shellcheck disable=SC2206 # word splitting of the list is intended
[ -n "${RUNTS_SETUP_APT:-}" ] && want+=(${RUNTS_SETUP_APT})

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  say "apt-get install ${missing[*]}"
  if ! apt_install 2>/dev/null; then
    say "apt-get update (package lists missing or stale)"
    apt-get update -q >/dev/null
    apt_install
  fi
fi

# bin/runts loads this bundle of the sources (faster than the module graph) while no source is
# newer than it: build/runts/main.js, with one file per command (scripts/bundle.sh).
if [ -f "$repo/main.ts" ]; then
  bash "$repo/scripts/bundle.sh"
  say "bundled main.ts into build/runts/"
fi
