/**
 * User namespace id maps for a caller without root (rootless): which host ids a user may map
 * (its own id, plus its `/etc/subuid` / `/etc/subgid` ranges), a check of a spec's mappings
 * against them, and writing maps that go beyond the caller's own id through the setuid helpers
 * `newuidmap` / `newgidmap` (Debian's `uidmap` package) — the one place runts runs a setuid
 * program, since only they may write such maps for an unprivileged caller.
 *
 * @example
 * ```ts
 * const owned = ownedIds({ uid: 1000, user: "alice", subidText: Deno.readTextFileSync("/etc/subuid") });
 * checkMappings(spec.linux?.uidMappings ?? [], owned, "linux.uidMappings");
 * ```
 * @module
 */
import type { LinuxIDMapping } from "../oci/spec.ts";

/** A range of host ids: `[start, start + size)`. */
export interface IdRange {
  /** First host id. */
  start: number;
  /** Number of ids. */
  size: number;
}

/** The setuid helpers, where Debian's `uidmap` package installs them. */
export const NEWUIDMAP = "/usr/bin/newuidmap";
/** See {@linkcode NEWUIDMAP}. */
export const NEWGIDMAP = "/usr/bin/newgidmap";

/**
 * The ranges of an `/etc/subuid` or `/etc/subgid` text (`name:start:count` or `uid:start:count`
 * per line) that belong to a user, given by name or by numeric id. Malformed lines and comments
 * are skipped, as shadow's tools skip them.
 */
export function parseSubIds(text: string, user: string | undefined, id: number): IdRange[] {
  const out: IdRange[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(":");
    if (parts.length !== 3) continue;
    const [who, s, n] = parts as [string, string, string];
    if (!/^\d+$/.test(s) || !/^\d+$/.test(n)) continue;
    if (who !== user && who !== String(id)) continue;
    const size = Number(n);
    if (size > 0) out.push({ start: Number(s), size });
  }
  return out;
}

/** The host ids a user may map: its own id and its subordinate ranges. */
export interface OwnedIds {
  /** The caller's own id (uid or gid). */
  own: number;
  /** Its ranges from /etc/subuid or /etc/subgid. */
  sub: IdRange[];
}

function within(start: number, size: number, r: IdRange): boolean {
  return start >= r.start && start + size <= r.start + r.size;
}

/**
 * Checks that every mapping's host range is the caller's own id or inside one of its
 * subordinate ranges.
 *
 * @throws {Error} naming the field, the host range and the caller's ranges when it is not.
 * @returns whether any mapping goes beyond the caller's own id (the helper is needed then).
 */
export function checkMappings(
  maps: LinuxIDMapping[],
  owned: OwnedIds,
  field: string,
  file: string,
): boolean {
  let beyondOwn = false;
  maps.forEach((m, i) => {
    const own = m.size === 1 && m.hostID === owned.own;
    if (own) return;
    beyondOwn = true;
    if (owned.sub.some((r) => within(m.hostID, m.size, r))) return;
    const last = m.hostID + m.size - 1;
    const ranges = owned.sub.map((r) => `${r.start}-${r.start + r.size - 1}`).join(", ");
    throw new Error(
      `${field}[${i}]: host ids ${m.hostID}-${last} are not the caller's (${owned.own}) and not in its ${file} ranges (${
        ranges === "" ? "none" : ranges
      })`,
    );
  });
  return beyondOwn;
}

/** The arguments of newuidmap/newgidmap for a process: `PID inside outside size ...`. */
export function helperArgs(pid: number, maps: LinuxIDMapping[]): string[] {
  return [
    String(pid),
    ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)]),
  ];
}

/** Options of {@linkcode writeMapsRootless}. */
export interface RootlessMapOptions {
  /** The child whose maps are written (blocked until they are). */
  pid: number;
  /** The spec's mappings. */
  uidMappings: LinuxIDMapping[];
  gidMappings: LinuxIDMapping[];
  /** Writes a /proc/<pid>/{uid_map,gid_map,setgroups} file directly. */
  writeProc: (file: "uid_map" | "gid_map" | "setgroups", text: string) => void;
  /** Caller identity (default: the process's). */
  uid?: number;
  gid?: number;
  /** /etc/subuid and /etc/subgid texts (default: read them; missing = empty). */
  subuid?: string;
  subgid?: string;
  /** The caller's user name (default: from /etc/passwd). */
  user?: string;
  /** Where the helpers are (default: NEWUIDMAP, NEWGIDMAP). */
  newuidmap?: string;
  newgidmap?: string;
  /** Runs a helper, throws its stderr on failure (default: Deno.Command). */
  runHelper?: (path: string, args: string[]) => void;
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** The name of a uid from /etc/passwd, if it has one. */
export function userName(uid: number, passwd: string = readOr("/etc/passwd")): string | undefined {
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f.length >= 3 && f[2] === String(uid)) return f[0];
  }
  return undefined;
}

function runHelperDefault(path: string, args: string[]): void {
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command(path, { args, stdin: "null", stdout: "null", stderr: "piped" })
      .outputSync();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      const name = path.slice(path.lastIndexOf("/") + 1);
      throw new Error(
        `${name} not found at ${path}: mapping ids beyond the caller's own needs it (install the "uidmap" package)`,
      );
    }
    throw e;
  }
  if (!out.success) {
    const msg = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
    throw new Error(`${path} ${args.join(" ")} failed: ${msg || `exit ${out.code}`}`);
  }
}

/**
 * Writes a rootless child's id maps: checked against the caller's own ids and subordinate
 * ranges first; maps of the caller's own id alone are written directly (with `setgroups`
 * denied first, which the kernel requires of an unprivileged gid_map), anything more through
 * newuidmap/newgidmap.
 *
 * @throws {Error} for a mapping the caller does not own, or a missing or failing helper.
 */
export function writeMapsRootless(o: RootlessMapOptions): void {
  const uid = o.uid ?? Deno.uid() ?? 0;
  const gid = o.gid ?? Deno.gid() ?? 0;
  const user = o.user ?? userName(uid);
  const uidOwned = { own: uid, sub: parseSubIds(o.subuid ?? readOr("/etc/subuid"), user, uid) };
  const gidOwned = { own: gid, sub: parseSubIds(o.subgid ?? readOr("/etc/subgid"), user, uid) };
  const uidHelper = checkMappings(o.uidMappings, uidOwned, "linux.uidMappings", "/etc/subuid");
  const gidHelper = checkMappings(o.gidMappings, gidOwned, "linux.gidMappings", "/etc/subgid");
  const run = o.runHelper ?? runHelperDefault;
  const text = (maps: LinuxIDMapping[]) =>
    maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
  if (o.uidMappings.length > 0) {
    if (uidHelper) run(o.newuidmap ?? NEWUIDMAP, helperArgs(o.pid, o.uidMappings));
    else o.writeProc("uid_map", text(o.uidMappings));
  }
  if (o.gidMappings.length > 0) {
    if (gidHelper) run(o.newgidmap ?? NEWGIDMAP, helperArgs(o.pid, o.gidMappings));
    else {
      o.writeProc("setgroups", "deny");
      o.writeProc("gid_map", text(o.gidMappings));
    }
  }
}
