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
  if (uidMap === undefined) {
    // (a process's user namespace never changes under it: read once)
    if (ownAnswer === undefined) {
      let text: string | undefined;
      try {
        text = Deno.readTextFileSync("/proc/self/uid_map");
      } catch {
        // no /proc: the host's
      }
      ownAnswer = text !== undefined && inUserNamespace(text);
    }
    return ownAnswer;
  }
  const lines = uidMap.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
  return !(lines.length === 1 && lines[0] === "0 0 4294967295");
}

/** inUserNamespace() of this process, once asked. */
let ownAnswer: boolean | undefined;
