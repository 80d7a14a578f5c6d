/**
 * The container manager of a sandbox process (runsc's controller): creates inits, releases
 * them, waits for them, signals them. Used by `runts boot` and, in the foreground, by `run`.
 * @module
 */
import { closeFd, type ExitStatus, killPid, openPath, pidfdSignal } from "../../ffi/process.ts";
import {
  type ContainerProcess,
  createInit,
  type ExecOptions,
  execProcess,
  type Init,
  printWarning,
} from "../linux/init.ts";
import { procState, startTime } from "../linux/procs.ts";
import { containerPids } from "../linux/procs.ts";
import {
  type CgroupManager,
  cgroupManagerOfSpec,
  checkBeforeCreate,
  loadCgroupDrivers,
  RootlessNoCgroup,
} from "../cgroup/manager.ts";
import { warmCgroupMove } from "../cgroup/warm.ts";
import { debugLog, mark } from "../trace.ts";
import { SIGKILL } from "../linux/signals.ts";
import { resourcesWithDevices } from "../linux/device_rules.ts";
import { runHooks, runPoststartHooks, startContainerPlace } from "../linux/hooks.ts";
import { listenerSender } from "../linux/listener.ts";
import type { Spec } from "../oci/spec.ts";
import { type OciState, ociStateOf } from "../oci/state.ts";

/** Namespaces the containers of a pod share: OCI type and /proc/<pid>/ns file. */
const POD_NAMESPACES: [string, string][] = [
  ["user", "user"],
  ["network", "net"],
  ["ipc", "ipc"],
  ["uts", "uts"],
];

/** Sends a seccomp listener fd to linux.seccomp.listenerPath with the process state. */
function listenerOf(o: ManagerCreateOptions, spec: Spec) {
  return listenerSender(spec, { id: o.id, bundle: o.bundle, status: "creating" });
}

/** What the manager keeps per container. */
interface Entry {
  init: Init;
  /** The spec and where the container lives, for its hooks' state. */
  spec: Spec;
  /** The container's cgroup. */
  cgroup: CgroupManager;
  bundle: string;
  /** Processes started in the container with exec, by host pid. */
  execs: Map<number, { proc: ContainerProcess; exited: Promise<ExitStatus | undefined> }>;
  exit?: ExitStatus | undefined;
  exited: Promise<ExitStatus | undefined>;
}

/** Options of ContainerManager.create(). */
export interface ManagerCreateOptions {
  id: string;
  spec: Spec;
  bundle: string;
  rootfs: string;
  stdio: [number, number, number];
  preserveFds?: number[];
  cloneParent?: boolean;
  noPivot?: boolean;
  startImmediately?: boolean;
  consoleFd?: number;
  /** Where warnings go (default: this process's stderr). */
  warn?: (w: string) => void;
}

/** The containers of one sandbox. */
/** Options of the ContainerManager. */
export interface ContainerManagerOptions {
  /** Cgroups through systemd (--systemd-cgroup). */
  systemdCgroup?: boolean;
}

export class ContainerManager {
  #entries = new Map<string, Entry>();
  readonly #systemdCgroup: boolean;
  /** The sandbox's first (root) container. */
  #root: string | undefined;
  /**
   * fds of the root container's namespaces that the pod shares, opened when it is created: later
   * containers join them even after the root's init is gone.
   */
  #podNs: Partial<Record<string, number>> = {};
  /** Called when a container is destroyed and none is left. */
  onEmpty: () => void = () => {};
  /** Called when a create request arrives, before anything is made (a spare learns its id). */
  onCreate: (id: string) => void = () => {};

  /** A manager for one sandbox's containers. */
  constructor(o: ContainerManagerOptions = {}) {
    this.#systemdCgroup = o.systemdCgroup ?? false;
  }

  /** Creates a container's init and waits until it is ready (blocked before execve). */
  async create(o: ManagerCreateOptions): Promise<Init> {
    this.onCreate(o.id);
    if (this.#entries.has(o.id)) throw new Error(`container "${o.id}" already exists`);
    const spec = this.#root === undefined ? o.spec : this.#joinPod(o.spec);
    // The cgroup exists, with its limits, before the init runs; the init is put in it first.
    await loadCgroupDrivers({ systemd: this.#systemdCgroup });
    const cgroup = cgroupManagerOfSpec(spec, o.id, this.#systemdCgroup);
    if (cgroup instanceof RootlessNoCgroup) debugLog(cgroup.reason);
    // refused before anything is made: a cgroup that existed is not ours to remove
    const warnings = checkBeforeCreate(cgroup, spec.linux?.resources ?? {});
    for (const w of warnings) (o.warn ?? printWarning)(w);
    let init: Init;
    try {
      cgroup.create();
      cgroup.apply(resourcesWithDevices(spec));
      mark("boot: cgroup ready");
      // (after the mkdirs: a move holds cgroup_mutex while it waits, and mkdir needs it)
      warmCgroupMove();
      init = await this.#createInit(o, spec, cgroup, listenerOf(o, spec));
    } catch (e) {
      await cgroup.destroy().catch(() => {});
      throw e;
    }
    return this.#finishCreate(o, spec, init, cgroup);
  }

  #createInit(
    o: ManagerCreateOptions,
    spec: Spec,
    cgroup: CgroupManager,
    onListener: ((fd: number, pid: number) => void) | undefined,
  ): Promise<Init> {
    return createInit({
      ...(onListener ? { onListener } : {}),
      ...(o.warn ? { warn: o.warn } : {}),
      spec,
      rootfs: o.rootfs,
      stdio: o.stdio,
      preserveFds: o.preserveFds ?? [],
      cloneParent: o.cloneParent ?? false,
      noPivot: o.noPivot ?? false,
      startImmediately: o.startImmediately ?? false,
      ...(o.consoleFd !== undefined ? { consoleFd: o.consoleFd } : {}),
      hookState: { id: o.id, bundle: o.bundle, annotations: o.spec.annotations ?? {} },
      ...(cgroup.join
        ? { joinCgroup: (pid: number) => cgroup.join!(pid) }
        : { cgroupProcs: cgroup.procsFiles() }),
    });
  }

  #finishCreate(o: ManagerCreateOptions, spec: Spec, init: Init, cgroup: CgroupManager): Init {
    init.onListener = listenerOf(o, spec);
    const entry: Entry = {
      init,
      cgroup,
      spec: o.spec,
      bundle: o.bundle,
      execs: new Map(),
      exited: Promise.resolve(undefined),
    };
    entry.exited = init.wait().then((s) => (entry.exit = s));
    this.#entries.set(o.id, entry);
    if (this.#root === undefined) {
      this.#root = o.id;
      for (const [type, file] of POD_NAMESPACES) {
        try {
          this.#podNs[type] = openPath(`/proc/${init.pid}/ns/${file}`, 0);
        } catch {
          // that namespace is not there to share
        }
      }
    }
    return init;
  }

  /**
   * A container added to the pod joins the root's network, IPC and UTS namespaces (and its user
   * namespace) unless its spec gives a path of its own; its mount, pid and cgroup namespaces
   * stay its own as the spec says.
   */
  #joinPod(spec: Spec): Spec {
    const namespaces = (spec.linux?.namespaces ?? []).map((n) => {
      const fd = this.#podNs[n.type];
      if (n.path || fd === undefined || !POD_NAMESPACES.some(([t]) => t === n.type)) return n;
      return { ...n, path: `/proc/${Deno.pid}/fd/${fd}` };
    });
    const joinsUser = namespaces.some((n) => n.type === "user" && n.path);
    const linux = { ...spec.linux, namespaces };
    if (joinsUser) {
      delete linux.uidMappings;
      delete linux.gidMappings;
    }
    return { ...spec, linux };
  }

  #get(id: string): Entry {
    const e = this.#entries.get(id);
    if (e === undefined) throw new Error(`container "${id}" is not in this sandbox`);
    return e;
  }

  /**
   * Runs the startContainer hooks (in the container), releases the init into execve, then
   * runs the poststart hooks; a failing poststart hook is a warning (runtime-spec: the
   * lifecycle goes on).
   */
  async start(id: string): Promise<string[]> {
    const e = this.#get(id);
    const state = (status: OciState["status"]): OciState =>
      ociStateOf({
        id,
        status,
        pid: e.init.pid,
        bundle: e.bundle,
        annotations: e.spec.annotations,
      });
    try {
      // (its place, with the container's namespaces and compiled seccomp filter, only for hooks)
      if ((e.spec.hooks?.startContainer?.length ?? 0) > 0) {
        await runHooks(
          "startContainer",
          e.spec.hooks,
          state("created"),
          startContainerPlace(e.init.pid, e.init.pidfd, e.spec),
        );
      }
    } catch (err) {
      pidfdSignal(e.init.pidfd, SIGKILL);
      throw err;
    }
    await e.init.start();
    const warnings: string[] = [];
    await runPoststartHooks(e.spec.hooks, state("running"), (m) => warnings.push(m));
    return warnings;
  }

  /** Starts a process in a running container; this process is its parent and reaps it. */
  async exec(id: string, o: Omit<ExecOptions, "initPid" | "initStartTime">): Promise<number> {
    const e = this.#get(id);
    warmCgroupMove(); // the process is moved into the container's cgroup after its clone
    const proc = await execProcess({
      ...o,
      container: { id, bundle: e.bundle },
      initPid: e.init.pid,
      initStartTime: startTime(e.init.pid) ?? "",
    });
    const exited = proc.wait().finally(() => {
      proc.close();
      e.execs.delete(proc.pid);
    });
    e.execs.set(proc.pid, { proc, exited });
    return proc.pid;
  }

  /** Waits for the init's exit; undefined status when the init was handed to our parent. */
  wait(id: string): Promise<ExitStatus | undefined> {
    return this.#get(id).exited;
  }

  /**
   * Kills what is left of a container (thawed first), waits for its init, removes its cgroup
   * and forgets it. Destroying the root container destroys every container of the sandbox.
   * `keepCgroup` leaves the cgroup for a later delete (`run --keep`). Returns false when the
   * cgroup could not be removed, or the container is not here (its caller may try again).
   */
  async destroy(id: string, keepCgroup = false): Promise<boolean> {
    if (id === this.#root) {
      for (const other of this.ids()) if (other !== id) await this.#destroyOne(other);
      for (const fd of Object.values(this.#podNs)) if (fd !== undefined) closeFd(fd);
      this.#podNs = {};
    }
    return await this.#destroyOne(id, keepCgroup);
  }

  async #destroyOne(id: string, keepCgroup = false): Promise<boolean> {
    const e = this.#entries.get(id);
    // Not here (a create that failed): the caller removes what its record names.
    if (e === undefined) return false;
    try {
      for (const pid of containerPids(e.init.pid).reverse()) {
        try {
          killPid(pid, SIGKILL);
        } catch {
          // gone meanwhile
        }
      }
      pidfdSignal(e.init.pidfd, SIGKILL);
    } catch {
      // already gone
    }
    if (e.cgroup.frozen()) e.cgroup.thaw();
    await e.exited;
    const clean = keepCgroup || await e.cgroup.destroy().then(() => true, () => false);
    e.init.close();
    this.#entries.delete(id);
    if (this.#entries.size === 0) this.onEmpty();
    return clean;
  }

  /** Each container's init and exec'd pids, with their process states. */
  describe(): { id: string; pid: number; state: string; execs: number[] }[] {
    return [...this.#entries].map(([id, e]) => ({
      id,
      pid: e.init.pid,
      state: e.exit !== undefined ? `exited ${e.exit.code}` : procState(e.init.pid) ?? "gone",
      execs: [...e.execs.keys()],
    }));
  }

  /** Host pids this manager waits for itself (inits and exec'd processes). */
  trackedPids(): Set<number> {
    const out = new Set<number>();
    for (const e of this.#entries.values()) {
      out.add(e.init.pid);
      for (const pid of e.execs.keys()) out.add(pid);
    }
    return out;
  }

  /** Ids of the containers. */
  ids(): string[] {
    return [...this.#entries.keys()];
  }
}
