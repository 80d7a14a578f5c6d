/**
 * The on-disk record of each container under the state root (`--root`, default `/run/runts`):
 *
 * ```
 * <root>/            0700
 *   <id>/            0700
 *     state.json     0600  the ContainerRecord, replaced atomically (write .tmp, rename)
 *     lock                 flock(2) held by every read-check-act-save (withLock)
 *     config.json    0600  the spec the container was created with (exec, update, delete)
 *     sock                 the sandbox process's control socket (a root container's)
 *     sandbox.log          the sandbox process's stderr
 *   ~<hash>.<pid>/         a directory being created (made whole, then renamed to <id>) or
 *                          removed (renamed from <id>); <hash> is the id's, which may be as
 *                          long as a file name itself
 * ```
 *
 * Every path under `<root>/<id>` is built here and nowhere else.
 *
 * Readers need no lock: a rename is atomic, so they see the old or the new record, never half
 * of one. The record keeps the init's start time from /proc/<pid>/stat, so a pid reused by an
 * unrelated process is never mistaken for the container (crun's status.c does the same).
 * @module
 */
import { fnv1a32 } from "../hash.ts";
import { join, resolve } from "../path.ts";
import type { ContainerStatus } from "../oci/state.ts";
import { procAlive, readProcStat } from "../linux/procs.ts";
import type { Spec } from "../oci/spec.ts";
export { parseProcStat, type ProcStat, readProcStat } from "../linux/procs.ts";

/** The default state root. */
export const DEFAULT_ROOT = "/run/runts";

/** Longest container id accepted (a file name). */
export const MAX_ID_LENGTH = 255;

const ID_RE = /^[\w+.-]+$/;

/** The record of one container, stored as `<root>/<id>/state.json`. */
export interface ContainerRecord {
  /** The container's id. */
  id: string;
  /** Absolute path of the bundle. */
  bundle: string;
  /** Absolute path of the root filesystem. */
  rootfs: string;
  /** Status last written; check it against /proc with {@linkcode isAlive}. */
  status: ContainerStatus;
  /** Host pid of the container's init, 0 if none. */
  pid: number;
  /** Field 22 (starttime) of /proc/<pid>/stat of the init, "" if none. */
  initStartTime: string;
  /** Creation time, ISO 8601. */
  created: string;
  /** The annotations of config.json. */
  annotations: Record<string, string>;
  /** Id of the sandbox (pod) the container belongs to; its own id for a root container. */
  sandboxId: string;
  /** Path of the sandbox process's control socket. */
  socketPath: string;
  /** `create` was given `--pid-file` (the init's parent is the caller, not the sandbox). */
  pidFileUsed: boolean;
  /** User that owns the container (runc's `owner` in `state`), "" for root. */
  owner: string;
  /** Host pid of the sandbox process. */
  sandboxPid?: number;
  /** Field 22 of /proc/<pid>/stat of the sandbox process. */
  sandboxStartTime?: string;
}

/** A container id that is not in the store. */
export class ContainerNotFoundError extends Error {
  /** The id. */
  readonly id: string;
  /** Builds the error: `container "x" does not exist`. */
  constructor(id: string) {
    super(`container ${JSON.stringify(id)} does not exist`);
    this.name = "ContainerNotFoundError";
    this.id = id;
  }
}

/** A container id that is already in the store. */
export class ContainerExistsError extends Error {
  /** The id. */
  readonly id: string;
  /** Builds the error: `container "x" already exists`. */
  constructor(id: string) {
    super(`container ${JSON.stringify(id)} already exists`);
    this.name = "ContainerExistsError";
    this.id = id;
  }
}

/**
 * Checks a container id as runc does: letters, digits, `_`, `+`, `-`, `.`, not `.` or `..`,
 * at most {@linkcode MAX_ID_LENGTH} characters.
 * @throws {Error} `invalid container id "a/b": only letters, digits and "_+-." are allowed`
 */
export function validateId(id: string): void {
  const q = JSON.stringify(id);
  if (id === "") throw new Error('invalid container id "": must not be empty');
  if (id === "." || id === "..") throw new Error(`invalid container id ${q}`);
  if (id.length > MAX_ID_LENGTH) {
    throw new Error(`invalid container id ${q}: longer than ${MAX_ID_LENGTH} characters`);
  }
  if (!ID_RE.test(id)) {
    throw new Error(`invalid container id ${q}: only letters, digits and "_+-." are allowed`);
  }
}

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined when the process does not exist. */
export function procStartTime(pid: number): string | undefined {
  return readProcStat(pid)?.startTime;
}

/**
 * True when the record's init still runs: the pid exists, its start time is the stored one
 * (the pid was not reused) and it is not a zombie (or dead, `X`).
 */
export function isAlive(record: Pick<ContainerRecord, "pid" | "initStartTime">): boolean {
  return procAlive(record.pid, record.initStartTime);
}

/** Prefix of a directory being created (not a valid id, so never listed). */
const PARTIAL = "~";

/**
 * The name of `id`'s directories being created or removed, but for the pid that ends it. The
 * id's hash stands for it: `~<id>.<pid>` of a 255-character id is no file name. Ids whose hashes
 * collide share only the sweeping of directories whose process is gone.
 */
function partialPrefix(id: string): string {
  return `${PARTIAL}${fnv1a32(id)}.`;
}

/** The directory a create (or removal) of `id` by process `pid` works in. */
export function partialDirName(id: string, pid: number): string {
  return `${partialPrefix(id)}${pid}`;
}

function existsPath(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes a 0600 file atomically: `<path>.tmp`, then rename. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, text, { mode: 0o600 });
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // nothing was written
    }
    throw e;
  }
}

/** Lock files this process holds, with their nesting depth (withLock re-enters). */
const held = new Map<string, number>();

function isThenable(v: unknown): boolean {
  return typeof v === "object" && v !== null &&
    typeof (v as { then?: unknown }).then === "function";
}

/**
 * The container records under one state root.
 *
 * @example
 * ```ts
 * const store = new ContainerStore("/run/runts");
 * const rec = store.load("web");
 * store.withLock("web", () => {
 *   const fresh = store.load("web");
 *   fresh.status = "running";
 *   store.saveLocked(fresh);
 * });
 * ```
 */
export class ContainerStore {
  readonly #root: string;

  /** A store rooted at `root` (made absolute); nothing is created until {@linkcode create}. */
  constructor(root: string = DEFAULT_ROOT) {
    this.#root = resolve(root);
  }

  /** The absolute state root. */
  get root(): string {
    return this.#root;
  }

  /** Checks an id (see {@linkcode validateId}). */
  validateId(id: string): void {
    validateId(id);
  }

  /** The container's state directory. */
  dir(id: string): string {
    validateId(id);
    return join(this.#root, id);
  }

  /** Path of the container's state.json. */
  statePath(id: string): string {
    return join(this.dir(id), "state.json");
  }

  /** Path of the spec the container was created with. */
  specPath(id: string): string {
    return join(this.dir(id), "config.json");
  }

  /** Path of the control socket of the sandbox process a root container starts. */
  socketPath(id: string): string {
    return join(this.dir(id), "sock");
  }

  /** Path of the log that receives the sandbox process's stderr. */
  logPath(id: string): string {
    return join(this.dir(id), "sandbox.log");
  }

  /** The spec the container was created with, undefined when it is not (or no longer) there. */
  readSpec(id: string): Spec | undefined {
    try {
      return JSON.parse(Deno.readTextFileSync(this.specPath(id))) as Spec;
    } catch {
      return undefined;
    }
  }

  /** Replaces the stored spec atomically. The caller holds the lock. */
  writeSpecLocked(id: string, spec: Spec): void {
    writeAtomic(this.specPath(id), JSON.stringify(spec));
  }

  /** True when a state directory exists for the id. */
  exists(id: string): boolean {
    try {
      return Deno.lstatSync(this.dir(id)).isDirectory;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  /**
   * Creates the container's directory (0700) with its first record and spec, all at once: they
   * are written in `<root>/~<id>.<pid>` which is then renamed to `<root>/<id>`, so a directory
   * named after an id always holds a record, whatever moment the caller is killed at. Of two
   * processes creating one id, exactly one wins; the other leaves nothing.
   * @throws {ContainerExistsError} when the id is taken.
   * @returns the record given.
   */
  create(id: string, record: ContainerRecord, spec?: Spec): ContainerRecord {
    validateId(id);
    if (record.id !== id) {
      throw new Error(`record id ${JSON.stringify(record.id)} differs from ${JSON.stringify(id)}`);
    }
    Deno.mkdirSync(this.#root, { recursive: true, mode: 0o700 });
    const dir = join(this.#root, id);
    if (this.exists(id)) throw new ContainerExistsError(id);
    this.#sweepPartial(id);
    const tmp = join(this.#root, partialDirName(id, Deno.pid));
    try {
      Deno.mkdirSync(tmp, { mode: 0o700 });
      Deno.chmodSync(tmp, 0o700);
      writeAtomic(join(tmp, "state.json"), JSON.stringify(record) + "\n");
      if (spec !== undefined) writeAtomic(join(tmp, "config.json"), JSON.stringify(spec));
      Deno.writeFileSync(join(tmp, "lock"), new Uint8Array(), { mode: 0o600 });
      try {
        Deno.renameSync(tmp, dir);
      } catch (e) {
        // rename(2) of a directory onto a non-empty one fails: the id was taken meanwhile.
        const code = (e as { code?: string }).code;
        if (e instanceof Deno.errors.AlreadyExists || code === "ENOTEMPTY" || code === "EEXIST") {
          throw new ContainerExistsError(id);
        }
        throw e;
      }
    } catch (e) {
      Deno.removeSync(tmp, { recursive: true });
      throw e;
    }
    return record;
  }

  /** Removes directories of creates of `id` whose process is gone (killed half-way). */
  #sweepPartial(id: string): void {
    const prefix = partialPrefix(id);
    try {
      for (const e of Deno.readDirSync(this.#root)) {
        if (!e.name.startsWith(prefix)) continue;
        const pid = Number(e.name.slice(prefix.length));
        if (Number.isInteger(pid) && pid !== Deno.pid && existsPath(`/proc/${pid}`)) continue;
        Deno.removeSync(join(this.#root, e.name), { recursive: true });
      }
    } catch {
      // best effort: another sweeper got there first
    }
  }

  /** Forgets leftovers of creates of `id` killed before they finished (delete --force). */
  removePartial(id: string): void {
    validateId(id);
    this.#sweepPartial(id);
  }

  /**
   * Reads a container's record, or undefined for an unknown id.
   */
  tryLoad(id: string): ContainerRecord | undefined {
    try {
      return this.load(id);
    } catch (e) {
      if (e instanceof ContainerNotFoundError) return undefined;
      throw e;
    }
  }

  /**
   * Reads a container's record.
   * @throws {ContainerNotFoundError} for an unknown id; an Error naming the file when it is
   * not a valid record.
   */
  load(id: string): ContainerRecord {
    const path = this.statePath(id);
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        throw new ContainerNotFoundError(id);
      }
      throw e;
    }
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch (e) {
      throw new Error(`container ${JSON.stringify(id)}: ${path}: ${(e as Error).message}`);
    }
    const r = rec as Partial<ContainerRecord> | null;
    if (
      typeof r !== "object" || r === null || r.id !== id || typeof r.pid !== "number" ||
      typeof r.status !== "string"
    ) {
      throw new Error(`container ${JSON.stringify(id)}: ${path}: not a container record`);
    }
    return r as ContainerRecord;
  }

  /** Writes a record, taking the container's lock for the write. */
  save(record: ContainerRecord): void {
    this.withLock(record.id, () => this.saveLocked(record));
  }

  /**
   * Writes a record atomically (`state.json.tmp`, then rename over `state.json`). The caller
   * holds the lock ({@linkcode withLock}).
   */
  saveLocked(record: ContainerRecord): void {
    try {
      writeAtomic(this.statePath(record.id), JSON.stringify(record) + "\n");
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new ContainerNotFoundError(record.id);
      throw e;
    }
  }

  /**
   * Runs `fn` holding the container's exclusive lock (flock on `<root>/<id>/lock`), waiting for
   * another process that holds it. Nested calls for the same container in this process
   * re-enter instead of deadlocking. `fn` must be synchronous: the lock is released when it
   * returns.
   * @throws {ContainerNotFoundError} when the container's directory does not exist.
   */
  withLock<T>(id: string, fn: () => T): T {
    const path = join(this.dir(id), "lock");
    const depth = held.get(path) ?? 0;
    if (depth > 0) {
      held.set(path, depth + 1);
      try {
        return fn();
      } finally {
        held.set(path, depth);
      }
    }
    const file = lockFileSync(path, id);
    try {
      held.set(path, 1);
      let result: T;
      try {
        result = fn();
      } finally {
        held.delete(path);
        file.unlockSync();
      }
      if (isThenable(result)) {
        throw new TypeError(
          "withLock() needs a synchronous function: the lock is already released",
        );
      }
      return result;
    } finally {
      file.close();
    }
  }

  /**
   * Runs the asynchronous `fn` holding the container's exclusive lock from start to end: the
   * lock of a verb that waits for the sandbox process (create, start, delete, exec). Not
   * re-entrant: `fn` must not take the same container's lock again.
   * @throws {ContainerNotFoundError} when the container's directory does not exist.
   */
  async withLockAsync<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const path = join(this.dir(id), "lock");
    const file = await lockFile(path, id);
    try {
      held.set(path, 1);
      try {
        return await fn();
      } finally {
        held.delete(path);
        await file.unlock();
      }
    } finally {
      file.close();
    }
  }

  /** Ids of every container directory, sorted. */
  ids(): string[] {
    const out: string[] = [];
    try {
      for (const e of Deno.readDirSync(this.#root)) {
        if (!e.isDirectory) continue;
        try {
          validateId(e.name);
          out.push(e.name);
        } catch {
          // not ours
        }
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    return out.sort();
  }

  /**
   * The records of every container, sorted by id. Directories without a readable record (a
   * create in progress, a damaged file) are skipped.
   */
  list(): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const id of this.ids()) {
      try {
        out.push(this.load(id));
      } catch {
        // skipped, see above
      }
    }
    return out;
  }

  /**
   * Removes a container's directory, under its lock (so no writer is cut short). Removing an
   * unknown id does nothing.
   */
  remove(id: string): void {
    const dir = this.dir(id);
    // Renamed away first (one atomic step: a reader sees the container or nothing), then
    // removed; a removal cut short leaves a partial directory, which the next create or
    // `delete --force` of the id sweeps.
    const gone = join(this.#root, partialDirName(id, Deno.pid));
    try {
      this.withLock(id, () => Deno.renameSync(dir, gone));
    } catch (e) {
      if (e instanceof ContainerNotFoundError || e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    Deno.removeSync(gone, { recursive: true });
  }
}

/**
 * Opens a container's lock file. It is made with the directory and never created here: a
 * command that opens it while a delete removes the directory must not put it back.
 * @throws {ContainerNotFoundError} when it does not exist.
 */
function openLockFile(path: string, id: string): Deno.FsFile {
  try {
    return Deno.openSync(path, { read: true, write: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ContainerNotFoundError(id);
    throw e;
  }
}

/**
 * Whether `file` (just locked) is still the lock file at `path`. A waiter that opened the
 * file before a delete removed it gets the lock of a removed container; the id may even have
 * been created again since, with a new lock file.
 * @throws {ContainerNotFoundError} when the container is gone.
 */
function stillAt(file: Deno.FsFile, path: string, id: string): boolean {
  let now: Deno.FileInfo;
  try {
    now = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ContainerNotFoundError(id);
    throw e;
  }
  const locked = file.statSync();
  return now.ino === locked.ino && now.dev === locked.dev;
}

/** Opens and locks a container's lock file (waiting for its holder), see {@linkcode stillAt}. */
function lockFileSync(path: string, id: string): Deno.FsFile {
  for (;;) {
    const file = openLockFile(path, id);
    try {
      file.lockSync(true);
      if (stillAt(file, path, id)) return file;
    } catch (e) {
      file.close();
      throw e;
    }
    file.close();
  }
}

/** {@linkcode lockFileSync}, waiting without blocking the event loop. */
async function lockFile(path: string, id: string): Promise<Deno.FsFile> {
  for (;;) {
    const file = openLockFile(path, id);
    try {
      await file.lock(true);
      if (stillAt(file, path, id)) return file;
    } catch (e) {
      file.close();
      throw e;
    }
    file.close();
  }
}
