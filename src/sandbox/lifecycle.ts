/**
 * The container lifecycle as the short-lived runts commands drive it: create (start a sandbox
 * process and ask it for the container), start, state, kill, delete.
 * @module
 */
import { resolve } from "node:path";
import { closeFd, pidfdOpen, pidfdSignal, pollPidfd } from "../../ffi/process.ts";
import { listenUnix } from "../../ffi/socket.ts";
import type { GlobalOptions } from "../cmd/context.ts";
import { canDelete, canKill, canPause, canResume, canStart } from "../container/status.ts";
import { type ContainerRecord, ContainerStore, isAlive } from "../container/record.ts";
import { connectConsoleSocket } from "../linux/console.ts";
import { containerPids, startTime } from "../linux/procs.ts";
import { loadBundle } from "../oci/config.ts";
import type { OciState } from "../oci/state.ts";
import { OCI_VERSION } from "../oci/default_spec.ts";
import type { LinuxResources, Spec } from "../oci/spec.ts";
import { runHook } from "../linux/hooks.ts";
import { resourcesWithDevices } from "../linux/device_rules.ts";
import {
  type CgroupManager,
  cgroupManagerFor,
  checkBeforeCreate,
  isSystemdCgroupsPath,
  pinSystemdCgroupsPath,
  rootlessCaller,
} from "../cgroup/manager.ts";
import { RpcClient } from "../rpc/client.ts";
import { openKvm } from "../kvm/device.ts";
import { selectPlatform } from "../kvm/platform.ts";
import * as M from "../rpc/methods.ts";
import { killSandbox, sandboxAlive, type SandboxProcess, startSandbox } from "./sandbox.ts";

/** Options of createContainer(). */
export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot: boolean;
  preserveFds: number;
  /** Return once created (create, run --detach); otherwise run waits. */
  detach: boolean;
}

/** The state directory layout of a container. */
export function paths(root: string, id: string): { dir: string; sock: string; log: string } {
  const dir = `${root}/${id}`;
  return { dir, sock: `${dir}/sock`, log: `${dir}/sandbox.log` };
}

/** The temporary file a pid file is written to before its rename (runc's `.NAME`). */
function pidFileTmp(path: string): string {
  const abs = resolve(path);
  const slash = abs.lastIndexOf("/");
  return `${abs.slice(0, slash)}/.${abs.slice(slash + 1)}`;
}

/** `open PATH: no such file or directory`: runc's wording of a failed open. */
function openError(path: string, e: unknown): Error {
  const reason = e instanceof Deno.errors.NotFound
    ? "no such file or directory"
    : e instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : (e as Error).message.replace(/ \(os error \d+\).*$/s, "").toLowerCase();
  return new Error(`open ${path}: ${reason}`, { cause: e });
}

/**
 * Checks, before anything is created, that a pid file can be written where it is asked for
 * (its directory exists and is writable), with runc's error text.
 */
export function checkPidFile(path: string): void {
  const tmp = pidFileTmp(path);
  const dir = tmp.slice(0, tmp.lastIndexOf("/")) || "/";
  try {
    if (!Deno.statSync(dir).isDirectory) throw new Deno.errors.NotFound();
  } catch (e) {
    throw openError(tmp, e);
  }
}

/** Writes a pid file atomically, as runc does. */
export function writePidFile(path: string, pid: number): void {
  const tmp = pidFileTmp(path);
  try {
    Deno.writeTextFileSync(tmp, String(pid));
  } catch (e) {
    throw openError(tmp, e);
  }
  Deno.renameSync(tmp, resolve(path));
}

function ourFds(first: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => first + i);
}

/** Creates a container in a new sandbox process and returns its record. */
export async function createContainer(
  g: GlobalOptions,
  o: CreateOptions,
): Promise<ContainerRecord> {
  const store = new ContainerStore(g.root);
  store.validateId(o.id);
  const { spec, rootfs, bundle } = loadBundle(o.bundle);
  if (g.systemdCgroup) pinSystemdCgroupsPath(spec, o.id);
  // The sandbox process checks again; its warnings would reach only its log. An id in use is
  // refused below, and its container's cgroup is not a stranger's.
  const cg = store.tryLoad(o.id) === undefined ? cgroupOf(spec, o.id) : undefined;
  if (cg !== undefined) {
    for (const w of checkBeforeCreate(cg, spec.linux?.resources ?? {})) {
      console.error(`runts: warning: ${w}`);
    }
  }
  if (spec.process?.terminal && o.consoleSocket === undefined) {
    throw new Error("process.terminal is true: --console-socket is required");
  }
  if (!spec.process?.terminal && o.consoleSocket !== undefined) {
    throw new Error("--console-socket given but process.terminal is false");
  }
  // Platform kvm: /dev/kvm is opened and checked here, before anything exists (issue 17).
  let kvmFd = selectPlatform(g.platform, spec.annotations) === "kvm" ? openKvm().fd : -1;
  const p = paths(g.root, o.id);
  // A container whose annotations name a sandbox joins that sandbox's process (a pod).
  const sandboxId = sandboxIdOf(spec.annotations) ?? o.id;
  const root = sandboxId === o.id ? undefined : store.tryLoad(sandboxId);
  if (sandboxId !== o.id) {
    if (root === undefined) throw new Error(`sandbox "${sandboxId}" does not exist`);
    if (!sandboxAlive(sandboxOf(root))) throw new Error(`sandbox "${sandboxId}" is not running`);
  }
  const rec = store.create(o.id, {
    id: o.id,
    bundle,
    rootfs,
    status: "creating",
    pid: 0,
    initStartTime: "",
    created: new Date().toISOString(),
    annotations: spec.annotations ?? {},
    sandboxId,
    socketPath: root?.socketPath ?? p.sock,
    pidFileUsed: o.pidFile !== undefined,
    owner: "",
    ...(root?.sandboxPid !== undefined
      ? { sandboxPid: root.sandboxPid, sandboxStartTime: root.sandboxStartTime ?? "" }
      : {}),
  });
  // exec starts from the container's spec as it was created (runc keeps it in its state too).
  Deno.writeTextFileSync(`${store.dir(o.id)}/config.json`, JSON.stringify(spec), { mode: 0o600 });
  let listenFd = -1;
  let consoleFd = -1;
  try {
    if (o.consoleSocket !== undefined) consoleFd = connectConsoleSocket(o.consoleSocket);
    if (root === undefined) {
      listenFd = listenUnix(p.sock, { mode: 0o600, backlog: 16 });
      const sb = await startSandbox({
        root: g.root,
        id: o.id,
        listenFd,
        logPath: p.log,
        debug: g.debug,
        systemdCgroup: g.systemdCgroup === true,
      });
      closeFd(listenFd);
      listenFd = -1;
      rec.sandboxPid = sb.pid;
      rec.sandboxStartTime = sb.startTime;
      store.save(rec);
    }
    const client = RpcClient.connect(rec.socketPath);
    try {
      const fds: Record<string, number> = { stdin: 0, stdout: 1, stderr: 2 };
      ourFds(3, o.preserveFds).forEach((fd, i) => (fds[`p${i}`] = fd));
      if (consoleFd >= 0) fds.console = consoleFd;
      if (kvmFd >= 0) fds.kvm = kvmFd;
      const args: M.CreateArgs = {
        id: o.id,
        spec,
        rootfs,
        bundle,
        cloneParent: o.pidFile !== undefined,
        noPivot: o.noPivot,
        preserveFds: o.preserveFds,
      };
      const { result } = client.callSync(M.CREATE, args, fds);
      const pid = (result as M.CreateResult).pid;
      rec.pid = pid;
      rec.initStartTime = startTime(pid) ?? "";
      rec.status = "created";
      if (o.pidFile !== undefined) writePidFile(o.pidFile, pid);
      store.save(rec);
      closeFd(consoleFd);
      consoleFd = -1;
      closeFd(kvmFd);
      kvmFd = -1;
      return rec;
    } finally {
      client.close();
    }
  } catch (e) {
    closeFd(listenFd);
    closeFd(consoleFd);
    closeFd(kvmFd);
    const why = lastLogLine(p.log);
    if (why !== "" && e instanceof Error) e.message += ` (sandbox process: ${why})`;
    await destroyLeftovers(store, rec);
    throw e;
  }
}

/** The sandbox a container's annotations name (containerd's CRI, CRI-O), if it is not a sandbox. */
export function sandboxIdOf(a: Record<string, string> | undefined): string | undefined {
  if (a === undefined) return undefined;
  if (a["io.kubernetes.cri.container-type"] === "container") {
    return a["io.kubernetes.cri.sandbox-id"];
  }
  if (a["io.kubernetes.cri-o.ContainerType"] === "container") {
    return a["io.kubernetes.cri-o.SandboxID"];
  }
  return undefined;
}

/** The last line the sandbox process wrote to its log, "" if none. */
function lastLogLine(path: string): string {
  try {
    const lines = Deno.readTextFileSync(path).trim().split("\n");
    return lines.at(-1) ?? "";
  } catch {
    return "";
  }
}

/** Kills the init (if it is still ours) and the sandbox process, and removes the state. */
async function destroyLeftovers(store: ContainerStore, rec: ContainerRecord): Promise<void> {
  await killInit(rec);
  if (rec.sandboxId === rec.id) await killSandbox(sandboxOf(rec));
  else await destroyInSandbox(rec);
  store.remove(rec.id);
}

/**
 * Asks the sandbox process to forget a container (best effort: it may be gone or stuck, so the
 * answer is awaited for a few seconds at most).
 */
async function destroyInSandbox(rec: ContainerRecord): Promise<void> {
  if (!sandboxAlive(sandboxOf(rec))) return;
  let client: RpcClient | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    client = RpcClient.connect(rec.socketPath);
    await Promise.race([
      client.call(M.DESTROY, { id: rec.id } satisfies M.IdArgs),
      new Promise((resolve) => (timer = setTimeout(resolve, DESTROY_TIMEOUT_MS))),
    ]);
  } catch {
    // an unresponsive sandbox is killed by the caller when it is the container's own
  } finally {
    clearTimeout(timer);
    client?.close();
  }
}

const DESTROY_TIMEOUT_MS = 3000;

/** The recorded sandbox process of a container. */
export function sandboxOf(rec: ContainerRecord): SandboxProcess | undefined {
  return rec.sandboxPid
    ? { pid: rec.sandboxPid, startTime: rec.sandboxStartTime ?? "" }
    : undefined;
}

/** The status to report: what the record says, corrected by what /proc shows. */
export function currentStatus(rec: ContainerRecord): ContainerRecord["status"] {
  if (rec.status === "creating") return sandboxAlive(sandboxOf(rec)) ? "creating" : "stopped";
  if (rec.status === "stopped") return "stopped";
  return isAlive(rec) ? rec.status : "stopped";
}

/** The runtime-spec state of a container, with runc's extra fields. */
export function ociState(rec: ContainerRecord): OciState & Record<string, unknown> {
  const status = currentStatus(rec);
  return {
    ociVersion: OCI_VERSION,
    id: rec.id,
    pid: status === "stopped" ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    ...(Object.keys(rec.annotations ?? {}).length ? { annotations: rec.annotations } : {}),
  };
}

/** Loads a container's record (the error names an unknown id). */
export function loadContainer(g: GlobalOptions, id: string): {
  store: ContainerStore;
  rec: ContainerRecord;
} {
  const store = new ContainerStore(g.root);
  return { store, rec: store.load(id) };
}

/** Starts a created container. */
export async function startContainer(g: GlobalOptions, id: string): Promise<void> {
  const { store, rec } = loadContainer(g, id);
  const status = currentStatus(rec);
  if (!canStart(status)) {
    throw new Error(`cannot start a container that is ${status}: "${id}"`);
  }
  const client = RpcClient.connect(rec.socketPath);
  try {
    const r = (await client.call(M.START, { id } satisfies M.IdArgs)).result as M.StartResult;
    rec.status = "running";
    store.save(rec);
    for (const w of r?.warnings ?? []) console.error(`runts: warning: ${w}`);
  } catch (e) {
    rec.status = "stopped";
    store.save(rec);
    throw e;
  } finally {
    client.close();
  }
}

/** Sends a signal to the init, or to all the container's processes. */
export function killContainer(g: GlobalOptions, id: string, signal: number, all: boolean): void {
  const { rec } = loadContainer(g, id);
  const status = currentStatus(rec);
  if (!canKill(status)) {
    // runc's answers, which containerd's shims parse: `kill --all` of a stopped container
    // succeeds (the shim sends it after every exit), a plain kill fails with this wording.
    if (all && status === "stopped") return;
    throw new Error("container not running");
  }
  const pids = all ? containerPids(rec.pid) : [rec.pid];
  for (const pid of pids) {
    signalChecked(pid, pid === rec.pid ? rec.initStartTime : undefined, signal);
  }
  // A frozen process acts on SIGKILL only once thawed (runc does the same).
  if (signal === 9 && status === "paused") {
    cgroupOf(storedSpec(new ContainerStore(g.root), id), id)?.thaw();
  }
}

/** Signals a pid through a pidfd, after checking it is still the same process. */
function signalChecked(pid: number, start: string | undefined, signal: number): boolean {
  const fd = pidfdOpen(pid);
  if (fd === undefined) return false;
  try {
    if (start !== undefined && startTime(pid) !== start) return false;
    return pidfdSignal(fd, signal);
  } finally {
    closeFd(fd);
  }
}

/** Kills the init (all its container's processes) and waits until it is gone. */
async function killInit(rec: ContainerRecord): Promise<void> {
  if (!isAlive(rec)) return;
  const fd = pidfdOpen(rec.pid);
  if (fd === undefined) return;
  try {
    if (startTime(rec.pid) !== rec.initStartTime) return;
    for (const pid of containerPids(rec.pid).reverse()) signalChecked(pid, undefined, 9);
    pidfdSignal(fd, 9);
    await pollPidfd(fd, 10_000);
  } finally {
    closeFd(fd);
  }
}

/** The cgroup manager of a container that must have one (pause, resume, update, stats). */
function cgroupFor(store: ContainerStore, id: string): CgroupManager {
  const cg = cgroupOf(storedSpec(store, id), id);
  if (cg === undefined || cg.kind === "disabled") {
    throw new Error(`container "${id}" has no cgroup`);
  }
  return cg;
}

/** Freezes every process of a running container (status paused). */
export function pauseContainer(g: GlobalOptions, id: string): void {
  const { store, rec } = loadContainer(g, id);
  const status = currentStatus(rec);
  if (!canPause(status)) throw new Error(`container "${id}" is not running: ${status}`);
  cgroupFor(store, id).freeze();
  rec.status = "paused";
  store.save(rec);
}

/** Thaws a paused container. */
export function resumeContainer(g: GlobalOptions, id: string): void {
  const { store, rec } = loadContainer(g, id);
  const status = currentStatus(rec);
  if (!canResume(status)) throw new Error(`container "${id}" is not paused: ${status}`);
  cgroupFor(store, id).thaw();
  rec.status = "running";
  store.save(rec);
}

/** Changes a running container's limits and remembers them in its stored spec. */
export function updateContainer(g: GlobalOptions, id: string, res: LinuxResources): void {
  const { store, rec } = loadContainer(g, id);
  const status = currentStatus(rec);
  if (status === "stopped") throw new Error(`container "${id}" is not running`);
  const spec = storedSpec(store, id);
  // Device rules are not changed by update (as with runc); the container's own are re-applied,
  // which writes nothing when its cgroup holds them and restores them when it does not.
  const { devices: _, ...limits } = res;
  const devices = spec === undefined ? {} : { devices: resourcesWithDevices(spec).devices };
  cgroupFor(store, id).update({ ...limits, ...devices });
  if (spec !== undefined) {
    spec.linux = {
      ...spec.linux,
      resources: mergeResources(spec.linux?.resources ?? {}, limits),
    };
    Deno.writeTextFileSync(`${store.dir(id)}/config.json`, JSON.stringify(spec), { mode: 0o600 });
  }
}

function mergeResources(a: LinuxResources, b: LinuxResources): LinuxResources {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const old = out[k];
    out[k] = v !== null && typeof v === "object" && !Array.isArray(v) && old !== undefined
      ? { ...(old as object), ...v }
      : v;
  }
  return out as LinuxResources;
}

/** A container's cgroup statistics, and the OOM kills counted so far. */
export function containerStats(g: GlobalOptions, id: string): {
  stats: ReturnType<CgroupManager["stats"]>;
  oomKills: number;
  status: ContainerRecord["status"];
} {
  const { store, rec } = loadContainer(g, id);
  const cg = cgroupFor(store, id);
  return { stats: cg.stats(), oomKills: cg.oomEvents(), status: currentStatus(rec) };
}

/** Runs the poststop hooks (runtime namespace); a failure is a warning, as the spec says. */
export async function poststop(
  spec: Spec | undefined,
  c: { id: string; bundle: string; pid: number },
): Promise<void> {
  if (!spec?.hooks?.poststop?.length) return;
  const state: OciState = {
    ociVersion: OCI_VERSION,
    id: c.id,
    status: "stopped",
    pid: c.pid,
    bundle: c.bundle,
    annotations: spec.annotations ?? {},
  };
  // A failing poststop hook is a warning, and the remaining hooks still run (runtime-spec).
  for (const hook of spec.hooks.poststop) {
    try {
      await runHook("poststop", hook, state);
    } catch (e) {
      console.error(`runts: warning: ${(e as Error).message}`);
    }
  }
}

/** The cgroup manager of a container (undefined when its spec is unknown). */
export function cgroupOf(spec: Spec | undefined, id: string): CgroupManager | undefined {
  if (spec === undefined) return undefined;
  try {
    const cgroupsPath = spec.linux?.cgroupsPath;
    // A container made with --systemd-cgroup has a slice:prefix:name path in its stored spec.
    return cgroupManagerFor({
      cgroupsPath,
      id,
      systemd: isSystemdCgroupsPath(cgroupsPath),
      ...(spec.linux?.resources ? { resources: spec.linux.resources } : {}),
      rootless: rootlessCaller(),
    });
  } catch {
    return undefined;
  }
}

/** The spec a container was created with (kept in its state directory). */
export function storedSpec(store: ContainerStore, id: string): Spec | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${store.dir(id)}/config.json`)) as Spec;
  } catch {
    return undefined;
  }
}

/** Deletes a container: refused unless stopped (or created), unless forced. */
export async function deleteContainer(g: GlobalOptions, id: string, force: boolean): Promise<void> {
  const store = new ContainerStore(g.root);
  let rec: ContainerRecord;
  try {
    rec = store.load(id);
  } catch (e) {
    if (force && !store.exists(id)) return;
    throw e;
  }
  const status = currentStatus(rec);
  if (!canDelete(status, force)) {
    throw new Error(`cannot delete container "${id}" that is not stopped: ${status}`);
  }
  // Frozen processes cannot die: thaw a paused container before killing it.
  if (status === "paused") cgroupOf(storedSpec(store, id), id)?.thaw();
  await killInit(rec);
  await destroyInSandbox(rec);
  // The root container's sandbox process ends with it (and every container in it).
  if (rec.sandboxId === rec.id) await killSandbox(sandboxOf(rec));
  // The sandbox removes the cgroup; when it was gone, nobody did.
  const spec = storedSpec(store, id);
  await cgroupOf(spec, id)?.destroy().catch(() => {});
  await poststop(storedSpec(store, id), { id, bundle: rec.bundle, pid: rec.pid });
  store.remove(id);
}
