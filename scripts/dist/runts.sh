#!/bin/sh
# runts as installed by install.sh: the pinned Deno runs the bundled runts. Works without PATH
# (podman runs the OCI runtime with an empty environment): every path comes from $0 and only
# shell built-ins and absolute paths are used. It forks nothing unless $0 is a symbolic link
# (then readlink finds the real place): every fork here is paid by every call.
self=$0
if [ -L "$self" ]; then
  for r in /usr/bin/readlink /bin/readlink; do
    if [ -x "$r" ]; then
      self=$("$r" -f -- "$self")
      break
    fi
  done
fi
case $self in
  /*) ;;
  *) self=$PWD/$self ;;
esac
while :; do
  case $self in
    */./*) self=${self%%/./*}/${self#*/./} ;;
    *) break ;;
  esac
done
bin=${self%/*}
case $bin in
  */..) prefix=$bin/.. ;;
  *) prefix=${bin%/*} ;;
esac
[ -n "$prefix" ] || prefix=/
lib=$prefix/lib/runts
if [ -z "${DENO_DIR:-}" ]; then
  DENO_DIR=$lib/cache
  export DENO_DIR
fi
# The V8 flags of every runts process: src/sandbox/self.ts RUNTS_V8_FLAGS, which says why.
exec "$lib/deno" run -A --no-config --quiet --no-prompt --no-lock --v8-flags=--no-maglev,--no-lazy "$lib/runts.js" "$@"
