/**
 * Rewrites this process's command line as `ps` and /proc/PID/cmdline show it, in place (the
 * memory between the kernel's arg_start and arg_end, as setproctitle does): no privilege needed,
 * but the new arguments must fit in the space the old ones took.
 * @module
 */

/**
 * Makes /proc/self/cmdline read `args` (NUL-separated; the rest of the old space reads as empty
 * arguments). Returns false, changing nothing, when they do not fit.
 */
export function setCmdline(args: string[]): boolean {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  // Fields after "(comm) ": index 0 is field 3 (state); arg_start and arg_end are 48 and 49.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = BigInt(f[45] ?? "0"), end = BigInt(f[46] ?? "0");
  const len = Number(end - start);
  const bytes = new TextEncoder().encode(args.join("\0") + "\0");
  if (start === 0n || bytes.length > len) return false;
  const p = Deno.UnsafePointer.create(start);
  if (p === null) return false;
  const area = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, len));
  area.fill(0);
  area.set(bytes);
  return true;
}
