#!/usr/bin/env bash
# README command 2 and CI (.ci/run): installs what is needed (scripts/setup.sh), builds the
# busybox rootfs the integration tests share (RUNTS_TEST_ROOTFS), then runs deno fmt --check,
# deno lint, deno check and deno test over the unit tests (src/**/*_test.ts, ffi/**/*_test.ts,
# tests/unit) and the integration tests (tests/integration, root only; ignored otherwise).
# Ends with exactly one line `N passed, N failed` (tests, not steps; a failed fmt, lint or check
# counts as one failed test, a deno crash without a summary as one failed test) and exits
# non-zero when anything failed.
set -uo pipefail

here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
repo=$(cd "$here/.." && pwd -P)
cd "$repo" || exit 1

export DENO_DIR="$repo/.deno/cache"
DENO="$repo/.deno/bin/deno"
failed=0
say() { echo "test: $*"; }

if ! bash scripts/setup.sh; then
  say "FAILED: scripts/setup.sh"
  echo "0 passed, 1 failed"
  exit 1
fi
if ! bash scripts/rootfs.sh "$repo/build/bundle"; then
  say "FAILED: scripts/rootfs.sh"
  failed=$((failed + 1))
fi
export RUNTS_TEST_ROOTFS="$repo/build/bundle/rootfs"

run_check() {
  say "$*"
  if ! "$DENO" "$@"; then
    say "FAILED: deno $*"
    failed=$((failed + 1))
  fi
}
run_check fmt --check
run_check lint
check_paths=()
for p in main.ts src ffi tests scripts/*.ts; do
  [ -e "$p" ] && check_paths+=("$p")
done
[ ${#check_paths[@]} -gt 0 ] && run_check check "${check_paths[@]}"

test_paths=()
for p in tests/unit src ffi tests/integration tests/e2e; do
  [ -d "$p" ] && test_paths+=("$p")
done
passed=0
if [ ${#test_paths[@]} -gt 0 ]; then
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  say "test -A --no-config ${test_paths[*]}"
  "$DENO" test -A --no-config "${test_paths[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # Deno's last line: `ok | 12 passed (3 steps) | 0 failed | 1 ignored (2s)` or `FAILED | ...`
  line=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n1)
  if [ -z "$line" ]; then
    say "FAILED: deno test printed no summary (exit status $rc)"
    failed=$((failed + 1))
  else
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | head -n1 | cut -d' ' -f1)
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | head -n1 | cut -d' ' -f1)
    i=$(grep -oE '[0-9]+ ignored' <<<"$line" | head -n1 | cut -d' ' -f1)
    passed=${p:-0}
    f=${f:-0}
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1 # failed after its summary (e.g. a leak)
    failed=$((failed + f))
    [ -n "$i" ] && [ "$i" -gt 0 ] && say "($i ignored: integration tests need root)"
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
