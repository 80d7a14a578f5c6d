/**
 * Whether this process runs in a user namespace: a /proc read with no other import, so that
 * every command can ask it at start without loading the syscall layer.
 * @module
 */

/**
 * Whether this process runs in a user namespace other than the host's: its uid_map is not the
 * identity map of every id (rootless podman runs the runtime as uid 0 of such a namespace).
 */
export function inUserNamespace(uidMap?: string): boolean {
  let text = uidMap;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/self/uid_map");
    } catch {
      return false;
    }
  }
  const lines = text.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
  return !(lines.length === 1 && lines[0] === "0 0 4294967295");
}
