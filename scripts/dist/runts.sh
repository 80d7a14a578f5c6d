#!/bin/sh
# runts as installed by install.sh: the pinned Deno runs the bundled runts. Works without PATH
# (podman runs the OCI runtime with an empty environment): every path comes from $0 and only
# shell built-ins and absolute paths are used.
self=$0
for r in /usr/bin/readlink /bin/readlink; do
  if [ -x "$r" ]; then
    self=$("$r" -f -- "$0")
    break
  fi
done
case $self in
  */*) bin=${self%/*} ;;
  *) bin=. ;;
esac
prefix=${bin%/*}
lib=$prefix/lib/runts
if [ -z "${DENO_DIR:-}" ]; then
  DENO_DIR=$lib/cache
  export DENO_DIR
fi
exec "$lib/deno" run -A --no-config --quiet --no-prompt --no-lock "$lib/runts.js" "$@"
