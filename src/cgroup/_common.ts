/**
 * Module-private parts shared by the cgroup managers: the {@linkcode CgroupManager} interface
 * and the stats types (re-exported by manager.ts), the error type, the filesystem backend
 * (host files, or a temp dir in tests), and the helpers that read and write control files.
 * @module
 */
import { sleep } from "../../ffi/timer.ts";
import type { LinuxResources } from "../oci/spec.ts";

/** A cgroup backend: v1 (also for the hybrid layout), v2, or the null object. */
export interface CgroupManager {
  /**
   * Which backend. A hybrid host (v1 + cgroup2 at /sys/fs/cgroup/unified) is "v1"; "systemd"
   * is a transient scope (--systemd-cgroup) whose files are handled by a v1 or v2 manager.
   */
  readonly kind: "v1" | "v2" | "disabled" | "systemd";
  /** Creates the cgroup directories (mkdir -p; v1 cpuset gets its parent's cpus/mems). */
  create(): void;
  /**
   * Absolute paths of the `cgroup.procs` files a new process writes "0" into to join: one per
   * v1 hierarchy, plus the cgroup2 one on a hybrid host; one on v2. They exist after create().
   */
  procsFiles(): string[];
  /**
   * Only for managers whose cgroup needs its first process to exist (systemd: a scope is
   * started with its pid). When present, the caller runs it with the new init's pid between
   * the clone and letting the init go on, instead of writing into procsFiles() itself.
   */
  join?(pid: number): void;
  /** The cgroup directory of each hierarchy, keyed like runc's state.json `cgroup_paths`. */
  paths(): Record<string, string>;
  /**
   * Refuses, before anything is created, resources this host cannot apply where the write
   * itself would fail late or unclearly (v1 on a hybrid host: `linux.resources.unified` keys
   * whose controller is bound to a v1 hierarchy). Absent: nothing to check beyond apply().
   */
  checkResources?(res: LinuxResources): void;
  /** Writes every limit of the resources (at create time: device rules included). */
  apply(res: LinuxResources): void;
  /**
   * Writes the limits given. Device rules, when given, are re-applied without a moment in
   * which a device they deny can be opened (v1: the fewest writes from the current rules, none
   * when unchanged; v2: the new filter is attached before the old one is detached).
   */
  update(res: LinuxResources): void;
  /** Usage and limits in the shape of runc's `events --stats` data. */
  stats(): Stats;
  /** Every pid in the cgroup and its descendants, sorted. */
  pids(): number[];
  /** Freezes every process of the cgroup; returns once the kernel reports it frozen. */
  freeze(): void;
  /** Thaws the cgroup. */
  thaw(): void;
  /** Whether the cgroup is frozen. */
  frozen(): boolean;
  /** How many processes the OOM killer has killed in the cgroup. */
  oomEvents(): number;
  /**
   * Kills what is left (SIGKILL to every pid, then thaw if frozen), waits for the processes to
   * leave and removes the directories, leaves first, retrying on EBUSY for about a second.
   * Succeeds when the directories are already gone.
   */
  destroy(): Promise<void>;
}

/** CPU usage in nanoseconds. */
export interface CpuUsage {
  /** Total CPU time consumed. */
  total: number;
  /** Per-CPU totals (v1 only). */
  percpu: number[];
  /** Per-CPU kernel time (v1 only). */
  percpu_kernel: number[];
  /** Per-CPU user time (v1 only). */
  percpu_user: number[];
  /** Time in kernel mode. */
  kernel: number;
  /** Time in user mode. */
  user: number;
}

/** CFS throttling counters. */
export interface Throttling {
  /** Enforcement periods elapsed. */
  periods: number;
  /** Periods in which the cgroup was throttled. */
  throttledPeriods: number;
  /** Total time throttled, in nanoseconds. */
  throttledTime: number;
}

/** One memory counter (bytes). */
export interface MemoryEntry {
  /** Limit (2^64 for "max" on v2, the kernel's huge number on v1). */
  limit: number;
  /** Current usage. */
  usage: number;
  /** Peak usage. */
  max: number;
  /** Times the limit was hit. */
  failcnt: number;
}

/** One blkio counter for a device and an operation. */
export interface BlkioEntry {
  /** Device major number. */
  major: number;
  /** Device minor number. */
  minor: number;
  /** `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`. */
  op: string;
  /** Value. */
  value: number;
}

/** Hugetlb usage of one page size. */
export interface HugetlbStats {
  /** Bytes in use. */
  usage: number;
  /** Peak (v1) or limit (v2). */
  max: number;
  /** Allocation failures. */
  failcnt: number;
}

/**
 * The `data` of a runc `events --stats` event. Every field is present (zero when the kernel
 * does not report it); numbers above 2^53 lose precision (they are "unlimited" values).
 */
export interface Stats {
  /** CPU. */
  cpu: { usage: CpuUsage; throttling: Throttling };
  /** Memory. `swap` is memory+swap, as on v1. */
  memory: {
    cache: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw: Record<string, number>;
  };
  /** Pids (limit 0 means no limit). */
  pids: { current: number; limit: number };
  /** Block I/O, with runc's JSON names. */
  blkio: {
    ioServiceBytesRecursive: BlkioEntry[];
    ioServicedRecursive: BlkioEntry[];
    ioQueueRecursive: BlkioEntry[];
    ioServiceTimeRecursive: BlkioEntry[];
    ioWaitTimeRecursive: BlkioEntry[];
    ioMergedRecursive: BlkioEntry[];
    ioTimeRecursive: BlkioEntry[];
    sectorsRecursive: BlkioEntry[];
  };
  /** Hugetlb usage by page size (`2MB`). */
  hugetlb: Record<string, HugetlbStats>;
}

/** Stats with every counter zero. */
export function emptyStats(): Stats {
  const mem = (): MemoryEntry => ({ limit: 0, usage: 0, max: 0, failcnt: 0 });
  return {
    cpu: {
      usage: { total: 0, percpu: [], percpu_kernel: [], percpu_user: [], kernel: 0, user: 0 },
      throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 },
    },
    memory: { cache: 0, usage: mem(), swap: mem(), kernel: mem(), kernelTCP: mem(), raw: {} },
    pids: { current: 0, limit: 0 },
    blkio: {
      ioServiceBytesRecursive: [],
      ioServicedRecursive: [],
      ioQueueRecursive: [],
      ioServiceTimeRecursive: [],
      ioWaitTimeRecursive: [],
      ioMergedRecursive: [],
      ioTimeRecursive: [],
      sectorsRecursive: [],
    },
    hugetlb: {},
  };
}

/** The value v2 reports as "max" (2^64, as close as a number gets to runc's MaxUint64). */
export const UNLIMITED = 2 ** 64;

/** The JSON form of a {@linkcode CgroupError}. */
export interface CgroupErrorJSON {
  /** Always "CgroupError". */
  name: "CgroupError";
  /** The whole message. */
  message: string;
  /** The resource field (`linux.resources.memory.limit`), "" when none. */
  field: string;
  /** The control file involved, when there is one. */
  path?: string;
  /** The errno name of the failed file operation (`EBUSY`). */
  code?: string;
}

/**
 * A cgroup problem. The message starts with the resource field when one is involved:
 * `linux.resources.cpu.idle: writing "1" to "/sys/fs/cgroup/cpu/x/cpu.idle": ENOENT (...)`.
 */
export class CgroupError extends Error {
  /** The resource field (`linux.resources.memory.limit`), "" when none. */
  readonly field: string;
  /** The control file involved. */
  readonly path: string | undefined;
  /** The errno name of the failed file operation. */
  readonly code: string | undefined;

  /** Builds the error; `reason` is the message without the field. */
  constructor(field: string, reason: string, o: { path?: string; code?: string } = {}) {
    super(field === "" ? reason : `${field}: ${reason}`);
    this.name = "CgroupError";
    this.field = field;
    this.path = o.path;
    this.code = o.code;
  }

  /** The error as plain data (crosses the RPC). */
  toJSON(): CgroupErrorJSON {
    const j: CgroupErrorJSON = { name: "CgroupError", message: this.message, field: this.field };
    if (this.path !== undefined) j.path = this.path;
    if (this.code !== undefined) j.code = this.code;
    return j;
  }
}

/**
 * The filesystem the managers use: the host's cgroupfs, or a temp dir in tests. Errors are
 * thrown as Deno's, with `code` set to the errno name (`ENOENT`, `EBUSY`).
 */
export interface CgroupFs {
  /** Reads a whole file. */
  read(path: string): string;
  /** Writes data with one write(2) into an existing file (never creates one). */
  write(path: string, data: string): void;
  /** Whether the path exists. */
  exists(path: string): boolean;
  /** mkdir -p. */
  mkdirAll(path: string): void;
  /** The entries of a directory, sorted by name. */
  entries(path: string): { name: string; isDir: boolean }[];
  /** Removes a cgroup directory (its control files go with it). */
  rmdir(path: string): void;
}

const enc = new TextEncoder();

/** The host's filesystem. */
export const hostCgroupFs: CgroupFs = {
  read: (path) => Deno.readTextFileSync(path),
  write(path, data) {
    // O_TRUNC is ignored by cgroupfs and keeps plain files (tests) exact; no O_CREAT.
    const f = Deno.openSync(path, { write: true, truncate: true, create: false });
    try {
      const bytes = enc.encode(data);
      const n = f.writeSync(bytes);
      if (n !== bytes.length) {
        throw Object.assign(new Error(`short write to ${path}: ${n} of ${bytes.length}`), {
          code: "EIO",
        });
      }
    } finally {
      f.close();
    }
  },
  exists(path) {
    try {
      Deno.lstatSync(path);
      return true;
    } catch {
      return false;
    }
  },
  mkdirAll: (path) => Deno.mkdirSync(path, { recursive: true }),
  entries(path) {
    const out: { name: string; isDir: boolean }[] = [];
    for (const e of Deno.readDirSync(path)) out.push({ name: e.name, isDir: e.isDirectory });
    return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  },
  rmdir: (path) => Deno.removeSync(path),
};

/** One recorded operation of a {@linkcode RecordingCgroupFs}. */
export interface CgroupFsOp {
  /** Operation. */
  op: "write" | "mkdir" | "rmdir";
  /** Path. */
  path: string;
  /** Data written. */
  data?: string;
}

/**
 * A backend that records every write, mkdir and rmdir (in order) and passes them on to
 * another backend: tests assert the sequence, which a file's final content cannot show
 * (`devices.deny` then each `devices.allow` line).
 */
export class RecordingCgroupFs implements CgroupFs {
  /** The operations so far. */
  readonly ops: CgroupFsOp[] = [];
  readonly #inner: CgroupFs;

  /** Wraps a backend. */
  constructor(inner: CgroupFs) {
    this.#inner = inner;
  }

  /** Reads through. */
  read(path: string): string {
    return this.#inner.read(path);
  }
  /** Records and writes. */
  write(path: string, data: string): void {
    this.ops.push({ op: "write", path, data });
    this.#inner.write(path, data);
  }
  /** Passes through. */
  exists(path: string): boolean {
    return this.#inner.exists(path);
  }
  /** Records and creates. */
  mkdirAll(path: string): void {
    this.ops.push({ op: "mkdir", path });
    this.#inner.mkdirAll(path);
  }
  /** Passes through. */
  entries(path: string): { name: string; isDir: boolean }[] {
    return this.#inner.entries(path);
  }
  /** Records and removes. */
  rmdir(path: string): void {
    this.ops.push({ op: "rmdir", path });
    this.#inner.rmdir(path);
  }
}

/** The errno name of a thrown filesystem error ("" when it has none). */
export function errCode(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : "";
}

const DESCRIPTIONS: Record<string, string> = {
  ENOENT: "No such file or directory",
  EBUSY: "Device or resource busy",
  EINVAL: "Invalid argument",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EOPNOTSUPP: "Operation not supported",
  ENOSPC: "No space left on device",
  ERANGE: "Numerical result out of range",
  EROFS: "Read-only file system",
};

/** `ENOENT (No such file or directory)`, or the error's message when it has no code. */
export function describeErr(e: unknown): string {
  const c = errCode(e);
  if (c === "") return e instanceof Error ? e.message : String(e);
  return DESCRIPTIONS[c] ? `${c} (${DESCRIPTIONS[c]})` : c;
}

/** Joins a directory and a file name. */
export function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * Writes one control file, turning a failure into a {@linkcode CgroupError} naming the field,
 * the value and the file. `hint` is appended for ENOENT (what the missing file means).
 */
export function writeField(
  fs: CgroupFs,
  o: { dir: string; file: string; value: string; field: string; hint?: string },
): void {
  const path = join(o.dir, o.file);
  try {
    fs.write(path, o.value);
  } catch (e) {
    const code = errCode(e);
    const hint = code === "ENOENT" && o.hint ? `: ${o.hint}` : "";
    throw new CgroupError(
      o.field,
      `writing ${JSON.stringify(o.value)} to ${JSON.stringify(path)}: ${describeErr(e)}${hint}`,
      code === "" ? { path } : { path, code },
    );
  }
}

/** Reads a control file, or undefined when it cannot be read. */
export function readOpt(fs: CgroupFs, path: string): string | undefined {
  try {
    return fs.read(path);
  } catch {
    return undefined;
  }
}

/** Parses an unsigned counter; "max" is {@linkcode UNLIMITED}; garbage or nothing is 0. */
export function parseUint(text: string | undefined): number {
  if (text === undefined) return 0;
  const t = text.trim();
  if (t === "max") return UNLIMITED;
  const n = Number(t);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** Reads an unsigned counter file (0 when it is missing). */
export function readUint(fs: CgroupFs, path: string): number {
  return parseUint(readOpt(fs, path));
}

/** Parses `key value` lines (memory.stat, cpu.stat, memory.events). */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? "").split("\n")) {
    const m = /^(\S+)\s+(\S+)$/.exec(line.trim());
    if (m) out[m[1]!] = parseUint(m[2]);
  }
  return out;
}

/** Sleeps the calling thread (freezer polling is synchronous). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Names of the subdirectories of a directory ([] when it cannot be read). */
export function subdirs(fs: CgroupFs, dir: string): string[] {
  try {
    return fs.entries(dir).filter((e) => e.isDir).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Names of the files of a directory ([] when it cannot be read). */
export function filesOf(fs: CgroupFs, dir: string): string[] {
  try {
    return fs.entries(dir).filter((e) => !e.isDir).map((e) => e.name);
  } catch {
    return [];
  }
}

/** The pids listed in `cgroup.procs` of a directory and all its descendants. */
export function procsRecursive(fs: CgroupFs, dir: string, into: Set<number>): void {
  const text = readOpt(fs, join(dir, "cgroup.procs"));
  if (text === undefined) return;
  for (const line of text.split("\n")) {
    const n = Number(line.trim());
    if (line.trim() !== "" && Number.isInteger(n) && n > 0) into.add(n);
  }
  for (const s of subdirs(fs, dir)) procsRecursive(fs, join(dir, s), into);
}

/** Every directory under dir (dir included), deepest first. */
function postOrder(fs: CgroupFs, dir: string, out: string[]): void {
  for (const s of subdirs(fs, dir)) postOrder(fs, join(dir, s), out);
  out.push(dir);
}

/** What {@linkcode destroyDirs} needs from a manager. */
export interface DestroyOptions {
  /** The backend. */
  fs: CgroupFs;
  /** The cgroup directories to remove (one per hierarchy). */
  dirs: string[];
  /** Lists the pids still in the cgroup. */
  pids(): number[];
  /** Whether the cgroup is frozen. */
  frozen(): boolean;
  /** Thaws it. */
  thaw(): void;
  /** Sends SIGKILL (errors such as ESRCH are ignored by the caller). */
  kill(pid: number): void;
  /** How long to keep trying, in ms (default 1000). */
  timeoutMs?: number;
}

/** The default kill: SIGKILL, ignoring processes that are already gone. */
export function sigkill(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // ESRCH: already gone
  }
}

/**
 * Kills every process left (SIGKILL while frozen, then thaw so the kill is delivered), waits
 * for the cgroup to empty, then removes the directories deepest first, retrying on EBUSY.
 */
export async function destroyDirs(o: DestroyOptions): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 1000);
  const killAll = (): number => {
    const left = o.pids();
    for (const pid of left) o.kill(pid);
    return left.length;
  };
  const wasFrozen = (() => {
    try {
      return o.frozen();
    } catch {
      return false;
    }
  })();
  killAll();
  if (wasFrozen) {
    try {
      o.thaw();
    } catch {
      // the directory may be gone already
    }
  }
  for (let delay = 1; killAll() > 0; delay = Math.min(delay * 2, 50)) {
    if (Date.now() > deadline) break;
    await sleep(delay);
  }
  let remaining: { path: string; err: unknown }[] = [];
  for (let delay = 1;; delay = Math.min(delay * 2, 50)) {
    remaining = [];
    for (const dir of o.dirs) {
      if (!o.fs.exists(dir)) continue;
      const order: string[] = [];
      postOrder(o.fs, dir, order);
      for (const d of order) {
        try {
          o.fs.rmdir(d);
        } catch (e) {
          if (errCode(e) !== "ENOENT") remaining.push({ path: d, err: e });
        }
      }
    }
    if (remaining.length === 0) return;
    const retry = remaining.every((r) => errCode(r.err) === "EBUSY");
    if (!retry || Date.now() > deadline) break;
    killAll();
    await sleep(delay);
  }
  const left = o.pids();
  const first = remaining[0]!;
  throw new CgroupError(
    "",
    `removing cgroup ${JSON.stringify(first.path)}: ${describeErr(first.err)}` +
      (remaining.length > 1 ? ` (and ${remaining.length - 1} more)` : "") +
      (left.length > 0 ? `; processes still in it: ${left.join(", ")}` : ""),
    { path: first.path, code: errCode(first.err) || "EIO" },
  );
}

/** Control files that move or kill processes or shape the tree: the runtime's, not the spec's. */
const RUNTIME_FILES = new Set([
  "cgroup.procs",
  "cgroup.threads",
  "cgroup.kill",
  "cgroup.subtree_control",
]);

/** Checks a key of `linux.resources.unified`: a plain file name. */
export function checkUnifiedKey(key: string): void {
  const field = `linux.resources.unified[${JSON.stringify(key)}]`;
  if (key === "" || key.includes("/") || key === "." || key === ".." || key.includes("\0")) {
    throw new CgroupError(field, 'must be a file name of the cgroup (no "/", not "..")');
  }
  if (RUNTIME_FILES.has(key)) {
    throw new CgroupError(field, "this file is managed by the runtime and cannot be set");
  }
}

/** A device number for blkio files: `8:0`. */
export function devNo(d: { major: number; minor: number }): string {
  return `${d.major}:${d.minor}`;
}

/** Whether a resource number is given and non-zero (runc leaves zero values unchanged). */
export function isSet(v: number | undefined): v is number {
  return v !== undefined && v !== 0;
}
