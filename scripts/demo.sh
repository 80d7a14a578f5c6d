#!/usr/bin/env bash
# README command 1: installs what is needed, builds the busybox bundle in build/bundle, writes
# its config.json with `runts spec` when there is none, and runs a container in it.
set -euo pipefail

here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
repo=$(cd "$here/.." && pwd -P)
bundle=$repo/build/bundle
runts=$repo/bin/runts

if [ "$(id -u)" != 0 ]; then
  echo "demo: runts needs root here; run: sudo bash scripts/demo.sh" >&2
  exit 1
fi

bash "$repo/scripts/setup.sh"
bash "$repo/scripts/rootfs.sh" "$bundle"

if [ ! -e "$bundle/config.json" ]; then
  echo "demo: runts spec (writing $bundle/config.json)"
  (cd "$bundle" && "$runts" spec)
  # The default spec asks for a terminal; the demo runs without one, and says something.
  "$repo/.deno/bin/deno" eval --no-config --quiet '
    const path = Deno.args[0];
    const spec = JSON.parse(Deno.readTextFileSync(path));
    spec.process.terminal = false;
    spec.process.args = [
      "sh", "-c",
      "echo hello from runts; id; hostname; cat /proc/self/status | grep -E \"^(Pid|NSpid)\"",
    ];
    Deno.writeTextFileSync(path, JSON.stringify(spec, null, "\t") + "\n");
  ' "$bundle/config.json"
  echo "demo: config.json: terminal false, args: sh -c 'echo hello from runts; id; hostname; ...'"
fi

id=demo-$$
echo "runts: running $id in ${bundle#"$repo/"} (bin/runts run -b ${bundle#"$repo/"} $id)"
cd "$repo"
set +e
"$runts" run -b "$bundle" "$id"
rc=$?
set -e
echo "runts: $id exited with status $rc"
exit "$rc"
