/**
 * A container as the short-lived runts commands see it (runsc's `container.Container`): its
 * record and stored spec, loaded from the store, with the status corrected by what /proc shows.
 * The verbs live one per file beside it (create.ts, start.ts, kill.ts, delete.ts, pause.ts,
 * update.ts, exec.ts); each one is a read-check-act-save done in one step under the
 * container's lock ({@linkcode Container.locked}).
 * @module
 */
import type { Platform } from "../kvm/platform.ts";
import type { Spec } from "../oci/spec.ts";
import { type OciState, ociStateOf } from "../oci/state.ts";
import { sandboxAlive, type SandboxProcess } from "../sandbox/process.ts";
import { type ContainerRecord, ContainerStore, isAlive } from "./record.ts";
import { allowed, type ContainerStatus, type Operation, refusal } from "./status.ts";

/** The state `runts state` prints: the runtime-spec's, with runc's extra fields. */
export interface RuntimeState extends OciState {
  rootfs: string;
  created: string;
  owner: string;
}

/** What the container layer needs of the global options. */
export interface Runtime {
  /** State root (`--root`). */
  root: string;
  /** Start sandbox processes with --debug. */
  debug: boolean;
  /** `--systemd-cgroup`: cgroups are systemd scopes (cgroupsPath slice:prefix:name). */
  systemdCgroup?: boolean;
  /** `--platform` (absent: the annotation decides, else native). */
  platform?: Platform;
}

/** A container loaded from its store. */
export class Container {
  /** The store it was loaded from. */
  readonly store: ContainerStore;
  /** Its record (saved with {@linkcode saveLocked}). */
  readonly rec: ContainerRecord;
  #spec: Spec | undefined | null = null;

  private constructor(store: ContainerStore, rec: ContainerRecord) {
    this.store = store;
    this.rec = rec;
  }

  /** The container's id. */
  get id(): string {
    return this.rec.id;
  }

  /**
   * Loads a container without its lock: for reading (state, list, ps, wait). A verb that
   * changes anything uses {@linkcode locked}.
   * @throws {ContainerNotFoundError} for an unknown id.
   */
  static load(rt: Pick<Runtime, "root">, id: string): Container {
    const store = new ContainerStore(rt.root);
    return new Container(store, store.load(id));
  }

  /** Wraps a record just read from `store` (the caller holds the lock if it will save). */
  static of(store: ContainerStore, rec: ContainerRecord): Container {
    return new Container(store, rec);
  }

  /**
   * Takes the container's lock, loads it, and runs `fn` with it: the one way a verb reads,
   * checks, acts and saves. A second command on the same container waits, then sees what the
   * first one left.
   * @throws {ContainerNotFoundError} for an unknown id (also when it was deleted meanwhile).
   */
  static locked<T>(rt: Pick<Runtime, "root">, id: string, fn: (c: Container) => Promise<T>) {
    const store = new ContainerStore(rt.root);
    return store.withLockAsync(id, () => fn(new Container(store, store.load(id))));
  }

  /** The spec the container was created with (read once), undefined when it is unknown. */
  get spec(): Spec | undefined {
    if (this.#spec === null) this.#spec = this.store.readSpec(this.id);
    return this.#spec;
  }

  /** Replaces the stored spec. The caller holds the lock. */
  writeSpecLocked(spec: Spec): void {
    this.store.writeSpecLocked(this.id, spec);
    this.#spec = spec;
  }

  /** Writes the record. The caller holds the lock. */
  saveLocked(): void {
    this.store.saveLocked(this.rec);
  }

  /** The recorded sandbox process. */
  get sandbox(): SandboxProcess | undefined {
    return this.rec.sandboxPid
      ? { pid: this.rec.sandboxPid, startTime: this.rec.sandboxStartTime ?? "" }
      : undefined;
  }

  /** True while the container's sandbox process runs. */
  sandboxAlive(): boolean {
    return sandboxAlive(this.sandbox);
  }

  /**
   * The status to report: what the record says, corrected by what /proc shows of the init (its
   * pid, start time, not a zombie), as runc reads it.
   */
  status(): ContainerStatus {
    const rec = this.rec;
    if (rec.status === "stopped") return "stopped";
    if (rec.status === "creating") return this.sandboxAlive() ? "creating" : "stopped";
    // The init, not the sandbox process, is the container: a sandbox process killed (by a
    // unit's stop, say) leaves a started init running, which kill, exec, pause and delete still
    // reach. (A created init reads EOF on its control pipe and exits when the sandbox process
    // goes.)
    return isAlive(rec) ? rec.status : "stopped";
  }

  /**
   * Throws the refusal of `op` unless the current status allows it; returns the status.
   * @throws {Error} `cannot start container "web": it is running`
   */
  check(op: Operation): ContainerStatus {
    const status = this.status();
    if (!allowed(op, status)) throw new Error(refusal(op, this.id, status));
    return status;
  }

  /** The runtime-spec state with runc's extra fields (`runts state`, `runts list`). */
  ociState(): RuntimeState {
    const status = this.status();
    const rec = this.rec;
    const s: RuntimeState = {
      ...ociStateOf({
        id: rec.id,
        status,
        pid: status === "stopped" ? 0 : rec.pid,
        bundle: rec.bundle,
      }),
      rootfs: rec.rootfs,
      created: rec.created,
      owner: rec.owner,
    };
    if (Object.keys(rec.annotations ?? {}).length) s.annotations = rec.annotations;
    else delete s.annotations;
    return s;
  }
}
