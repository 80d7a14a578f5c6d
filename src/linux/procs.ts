/**
 * Finding a container's processes on the host: those in the init's pid namespace when the
 * container has one of its own, otherwise the init and its descendants.
 * @module
 */
import { NS_FLAG } from "./consts.ts";

/** The fields of /proc/<pid>/stat that runts uses. */
export interface ProcStat {
  /** Field 1. */
  pid: number;
  /** Field 2 without its parentheses (may contain spaces and parentheses). */
  comm: string;
  /** Field 3: R, S, D, Z, T, t, X, I... */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Field 22, in clock ticks since boot, as a string. */
  startTime: string;
}

/**
 * Parses a /proc/<pid>/stat line. The comm field may contain spaces and `)`, so the fields are
 * read after the LAST `)`. Returns undefined for a malformed line.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).trim().split(" ");
  const startTime = rest[19];
  const state = rest[0];
  if (state === undefined || startTime === undefined || !/^\d+$/.test(startTime)) return undefined;
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state,
    ppid: Number(rest[1]),
    startTime,
  };
}

/** Reads and parses /proc/<pid>/stat; undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` still runs as the process whose start time was recorded (the pid was not
 * reused) and it is not a zombie (or dead, `X`). The one liveness check of inits and sandbox
 * processes.
 */
export function procAlive(pid: number, start: string | undefined): boolean {
  if (pid <= 0 || start === undefined || start === "") return false;
  const st = readProcStat(pid);
  return st !== undefined && st.startTime === start && st.state !== "Z" && st.state !== "X";
}

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined when the pid does not exist. */
export function startTime(pid: number): string | undefined {
  return readProcStat(pid)?.startTime;
}

/** Process state letter (R, S, D, Z, T...) of /proc/<pid>/stat. */
export function procState(pid: number): string | undefined {
  return readProcStat(pid)?.state;
}

function readlink(path: string): string | undefined {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return undefined;
  }
}

function ppid(pid: number): number | undefined {
  return readProcStat(pid)?.ppid;
}

function allPids(): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const n = Number(e.name);
    if (Number.isInteger(n) && n > 0) out.push(n);
  }
  return out.sort((a, b) => a - b);
}

/** Whether `pid` is PID 1 of its pid namespace (the last NSpid field is 1). */
export function isNamespaceInit(pid: number): boolean {
  try {
    const m = /^NSpid:\s+(.*)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m?.[1]?.trim().split(/\s+/).at(-1) === "1";
  } catch {
    return false;
  }
}

/**
 * Host pids of the processes of the container whose init is `initPid`, the init first: every
 * process of its pid namespace when the init is that namespace's PID 1, otherwise (the host's
 * or another container's pid namespace) the init and its descendants.
 */
export function containerPids(initPid: number): number[] {
  const ns = readlink(`/proc/${initPid}/ns/pid`);
  if (ns === undefined) return [];
  const own = readlink("/proc/self/ns/pid");
  const pids = allPids();
  if (ns !== own && isNamespaceInit(initPid)) {
    return [initPid, ...pids.filter((p) => p !== initPid && readlink(`/proc/${p}/ns/pid`) === ns)];
  }
  const parent = new Map(pids.map((p) => [p, ppid(p)]));
  const tree = new Set([initPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of parent) {
      if (!tree.has(p) && pp !== undefined && tree.has(pp)) {
        tree.add(p);
        grew = true;
      }
    }
  }
  return [initPid, ...[...tree].filter((p) => p !== initPid)];
}

/**
 * Reaps zombie children of this process that nobody waits for (orphans a subreaper inherits),
 * leaving alone the pids in `tracked`, which their own waiters reap, and in `ownChildren` (the
 * processes this one cloned itself, ffi/clone.ts's set; pids gone from /proc leave it).
 */
export function reapOrphans(
  tracked: Set<number>,
  ownChildren: Set<number>,
  reap: (pid: number) => void,
): number {
  const self = Deno.pid;
  let n = 0;
  const pids = allPids();
  const present = new Set(pids);
  for (const pid of ownChildren) if (!present.has(pid)) ownChildren.delete(pid);
  for (const pid of pids) {
    if (tracked.has(pid) || ownChildren.has(pid)) continue;
    const st = readProcStat(pid);
    if (st?.ppid === self && st.state === "Z") {
      reap(pid);
      n++;
    }
  }
  return n;
}

/** Namespace types whose files are under /proc/<pid>/ns, with their setns flags. */
const NS_FILES: [string, number][] = [
  ["user", NS_FLAG.user],
  ["mnt", NS_FLAG.mount],
  ["uts", NS_FLAG.uts],
  ["ipc", NS_FLAG.ipc],
  ["net", NS_FLAG.network],
  ["cgroup", NS_FLAG.cgroup],
  ["time", NS_FLAG.time],
];

function nsLink(pid: number | "self", name: string): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/${pid}/ns/${name}`);
  } catch {
    return undefined;
  }
}

/** The setns flags that take a process into `pid`'s namespaces, and whether its pid ns differs. */
export function nsJoinFlags(pid: number): { nsFlags: number; joinPid: boolean } {
  let nsFlags = 0;
  for (const [name, flag] of NS_FILES) {
    const theirs = nsLink(pid, name);
    if (theirs !== undefined && theirs !== nsLink("self", name)) nsFlags |= flag;
  }
  return { nsFlags, joinPid: nsLink(pid, "pid") !== nsLink("self", "pid") };
}
