/**
 * The host side of a container's init: clone it with its syscall program, write its id maps,
 * wait until it reports "created", release it at `start`, and wait for its exit.
 * @module
 */
import { debugLog, debugOn, mark } from "../trace.ts";
import { CLONE, HIGH_FD, ownChildren, type Spawned, spawnProgram } from "../../ffi/clone.ts";
import { describeStep, type Program } from "../../ffi/program.ts";
import { readFileInRoot, resolveInRoot } from "../../ffi/fs.ts";
import { execStubFd } from "../../ffi/exec_stub.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";
import { cstr, sys } from "../../ffi/syscall.ts";
import {
  closeFd,
  dupAbove,
  type ExitStatus,
  inUserNamespace,
  killPid,
  openPath,
  pidfdOpen,
  pidfdSignal,
  pipe,
  pollPidfd,
  reapBlocking,
  setns,
  waitPidfd,
  writeAll,
} from "../../ffi/process.ts";
import type { Spec } from "../oci/spec.ts";
import { CATCHABLE_SIGNALS, SIGKILL } from "./signals.ts";
import { InitChannel, readReport, reportError } from "./channel.ts";
import { ociStateOf } from "../oci/state.ts";
import { cgroupLayout, cgroupProcsOf } from "./cgroup_mounts.ts";
import { containerPlace, runHooks } from "./hooks.ts";
import { compileLoaded, loadSeccompFor } from "./seccomp_lazy.ts";

export { loadSeccompFor };
import { listenerSender } from "./listener.ts";
import { checkCapabilities, kernelLastCap } from "./capabilities.ts";
import { mountOf, parseMountinfo, procSysOutside } from "./mountinfo.ts";
import { nsJoinFlags, startTime } from "./procs.ts";
import { AT, AT_FDCWD, NS_FLAG, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE } from "./consts.ts";
import { writeMapsRootless } from "./idmap.ts";
import { parseMountOptions } from "./mount_options.ts";
import { buildInitProgram, type NsType, SCRATCH_FD } from "./init_program.ts";

/** Options for creating an init. */
export interface CreateInitOptions {
  /** The validated spec. */
  spec: Spec;
  /** Absolute rootfs path. */
  rootfs: string;
  /** stdin, stdout, stderr for the process. */
  stdio: [number, number, number];
  /** Extra fds passed as 3, 4, ... */
  preserveFds?: number[];
  /** The init becomes a child of our parent (the caller's subreaper reaps it). */
  cloneParent?: boolean;
  /** chroot instead of pivot_root. */
  noPivot?: boolean;
  /** Do not wait for start (run). */
  startImmediately?: boolean;
  /** A connected console socket for process.terminal. */
  consoleFd?: number;
  /** What the create hooks get on stdin: the container's id, bundle and annotations. */
  hookState?: { id: string; bundle: string; annotations?: Record<string, string> };
  /** cgroup.procs files the init is put into before it does anything. */
  cgroupProcs?: string[];
  /**
   * Puts the init into its cgroup instead of cgroupProcs (the systemd driver starts a scope
   * with its pid); runs after the clone, before the init goes on.
   */
  joinCgroup?: (pid: number) => void;
  /** Where warnings go (default: this process's stderr; a sandbox process sends them back). */
  warn?: (w: string) => void;
  /** Receives the seccomp listener fd (SCMP_ACT_NOTIFY) when the process reports it. */
  onListener?: (fd: number, pid: number) => void;
}

/**
 * A process runts cloned into a container (an init, or a process started with exec), once it
 * has reported "ready": its pid, its pidfd, and the parent's end of its handshake.
 */
export class ContainerProcess {
  /** Host pid. */
  readonly pid: number;
  /** pidfd of the process. */
  readonly pidfd: number;
  /** The process is a child of this process (not handed to our parent). */
  readonly ownChild: boolean;
  /** The parent's end of the handshake. */
  protected readonly channel: InitChannel;
  #exit: Promise<ExitStatus | undefined> | undefined;

  constructor(o: { pid: number; pidfd: number; channel: InitChannel; own: boolean }) {
    this.pid = o.pid;
    this.pidfd = o.pidfd;
    this.channel = o.channel;
    this.ownChild = o.own;
  }

  /** Called with the seccomp listener fd (SCMP_ACT_NOTIFY) before the process execs. */
  onListener: ((fd: number, pid: number) => void) | undefined;

  /** The reports after ready: the seccomp listener (if any), then execve's outcome. */
  protected async afterExec(): Promise<void> {
    try {
      for (;;) {
        const r = await this.channel.next();
        if (r.kind === "notify") {
          this.takeListener();
          continue;
        }
        if (r.kind === "failed") {
          if (this.ownChild) await this.wait();
          throw this.channel.error(r);
        }
        return;
      }
    } finally {
      this.channel.close();
    }
  }

  /** Takes the seccomp listener fd the process reported, hands it on, and releases it. */
  takeListener(): void {
    const fd = sys("pidfd_getfd", "seccomp listener", SYS.pidfd_getfd, this.pidfd, SCRATCH_FD, 0);
    try {
      this.onListener?.(fd, this.pid);
    } finally {
      closeFd(fd);
      this.channel.send("listenerTaken");
    }
  }

  /** Waits for execve of a process whose program goes straight on (run, exec). */
  started(): Promise<void> {
    return this.afterExec();
  }

  /**
   * Waits for the process to exit. Returns its status when it is our child, undefined when it
   * was handed to our parent (we only see that it is gone).
   */
  wait(): Promise<ExitStatus | undefined> {
    this.#exit ??= this.ownChild
      ? waitPidfd(this.pidfd)
      : pollPidfd(this.pidfd).then(() => undefined);
    return this.#exit;
  }

  /** Closes the fds kept for the process. */
  close(): void {
    this.channel.close();
    closeFd(this.pidfd);
  }
}

/** A container's init: created, blocked before execve until {@linkcode start}. */
export class Init extends ContainerProcess {
  /** Releases the init into execve; resolves when execve succeeded, throws when it failed. */
  async start(): Promise<void> {
    if (!this.channel.open || this.channel.phase !== "ready") {
      throw new Error("container already started");
    }
    this.channel.send("start");
    await this.afterExec();
  }
}

function bindSourceKinds(spec: Spec): Record<string, "file" | "dir"> {
  const out: Record<string, "file" | "dir"> = {};
  for (const m of spec.mounts ?? []) {
    const bind = m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
    if (!bind || m.source === undefined) continue;
    try {
      out[m.source] = Deno.statSync(m.source).isDirectory ? "dir" : "file";
    } catch {
      // A missing source fails in open_tree with a message naming it.
    }
  }
  return out;
}

/**
 * With a new user namespace, bind sources are opened here (open_tree clones) while runts
 * still has the host's credentials: the child, root of its namespace only, may be refused a
 * source the host's root can reach (a 0700 directory). `keep` moves each fd where the child
 * can use it. Joined mount namespaces resolve their sources there, in the child. A rootless
 * runts (not root, or root of a user namespace) has no host credentials to lend: open_tree
 * needs CAP_SYS_ADMIN over the caller's mount namespace, so the child opens them.
 */
function openBindSources(spec: Spec, fds: FdSource): Record<number, number> {
  const ns = spec.linux?.namespaces ?? [];
  const fresh = (t: string) => ns.some((n) => n.type === t && !n.path);
  if (!fresh("user") || !fresh("mount") || rootless() || inUserNamespace()) return {};
  const out: Record<number, number> = {};
  (spec.mounts ?? []).forEach((m, i) => {
    const opts = parseMountOptions(m.options ?? [], m.type);
    if (!opts.bind) return;
    const what = `bind source ${JSON.stringify(m.source ?? "")} for ${
      JSON.stringify(m.destination)
    }`;
    const flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (opts.recursive ? AT.RECURSIVE : 0);
    out[i] = fds.high(fds.openTree(m.source ?? "", flags, what), true);
  });
  return out;
}

/** The compiled seccomp filter of a spec, as an init program option. */
function seccompOption(
  spec: Spec,
): { seccomp?: { filter: Uint8Array; flags: number; notify: boolean } } {
  const sc = spec.linux?.seccomp;
  if (sc === undefined) return {};
  const c = compileLoaded(sc);
  return { seccomp: { filter: c.filter, flags: c.flags, notify: c.notify } };
}

/**
 * The spec with HOME in the process's environment when it has none: the user's home directory
 * from the rootfs's /etc/passwd, or "/" (runc's behaviour).
 */
export function withHome(spec: Spec, root: string): Spec {
  const proc = spec.process;
  if (proc === undefined || (proc.env ?? []).some((e) => e.startsWith("HOME="))) return spec;
  const uid = proc.user?.uid ?? 0;
  const passwd = readFileInRoot(root, "/etc/passwd", 1 << 20) ?? "";
  const home = passwd.split("\n").map((l) => l.split(":")).find((f) => f[2] === String(uid))
    ?.[5] || "/";
  return { ...spec, process: { ...proc, env: [...(proc.env ?? []), `HOME=${home}`] } };
}

/** Hooks that run while the container is being created, before pivot_root. */
const CREATE_HOOKS = ["prestart", "createRuntime", "createContainer"] as const;

function needsCgroupLayout(spec: Spec): boolean {
  return (spec.mounts ?? []).some((m) => m.type === "cgroup");
}

function idMap(maps: { containerID: number; hostID: number; size: number }[] | undefined): string {
  return (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
}

/**
 * Refuses what runts cannot apply rather than ignoring it silently: Intel RDT, network devices
 * to move. LSM labels are
 * applied only where the host has the LSM (runc's behaviour); this host has neither AppArmor
 * nor SELinux enabled, so they are ignored, as runc does there.
 */
function checkUnsupported(spec: Spec, warn = printWarning): void {
  if (spec.linux?.intelRdt !== undefined) {
    throw new Error("linux.intelRdt: Intel RDT is not supported by runts");
  }
  if (Object.keys(spec.linux?.netDevices ?? {}).length > 0) {
    throw new Error(
      "linux.netDevices: moving network devices into the container is not supported by runts",
    );
  }
  checkSysctls(spec);
  for (const w of checkCapabilities(spec, kernelLastCap())) warn(w);
}

/** A warning on this process's stderr. */
export function printWarning(w: string): void {
  console.error(`runts: warning: ${w}`);
}

const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/**
 * linux.sysctl may only set keys of namespaces the container has of its own (runc's rule):
 * IPC keys and fs.mqueue.* need a new IPC namespace, net.* a new network namespace,
 * kernel.hostname and kernel.domainname a new UTS namespace. Anything else would change the
 * host.
 */
export function checkSysctls(spec: Spec): void {
  const newNs = new Set(
    (spec.linux?.namespaces ?? []).filter((n) => !n.path).map((n) => n.type as string),
  );
  for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
    const f = `linux.sysctl[${JSON.stringify(key)}]`;
    let ns: string | undefined;
    if (IPC_SYSCTLS.has(key) || key.startsWith("fs.mqueue.")) ns = "ipc";
    else if (key.startsWith("net.")) ns = "network";
    else if (key === "kernel.hostname" || key === "kernel.domainname") ns = "uts";
    if (ns === undefined) {
      throw new Error(`${f}: not a namespaced sysctl; it would change the host`);
    }
    if (!newNs.has(ns)) {
      throw new Error(`${f}: needs a new ${ns} namespace, or it would change the host's`);
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The exec label of process.apparmorProfile or process.selinuxLabel where the host has that
 * LSM; ignored (with a debug line) where it has not, as runc does. linux.mountLabel likewise.
 */
export function execLabelOption(spec: Spec): { execLabel?: { file: string; value: string } } {
  const p = spec.process;
  if (spec.linux?.mountLabel) {
    debugLog("ignoring linux.mountLabel: SELinux mount labels are not applied");
  }
  if (p?.apparmorProfile) {
    if (exists("/sys/kernel/security/apparmor")) {
      const file = exists("/proc/self/attr/apparmor/exec")
        ? "/proc/self/attr/apparmor/exec"
        : "/proc/self/attr/exec";
      return { execLabel: { file, value: `exec ${p.apparmorProfile}` } };
    }
    debugLog("ignoring process.apparmorProfile: AppArmor is not enabled on this host");
  }
  if (p?.selinuxLabel) {
    if (exists("/sys/fs/selinux/enforce")) {
      return { execLabel: { file: "/proc/self/attr/exec", value: p.selinuxLabel } };
    }
    debugLog("ignoring process.selinuxLabel: SELinux is not enabled on this host");
  }
  return {};
}

/**
 * Where the fds a program refers to come from: real ones moved to HIGH_FD and above
 * ({@linkcode createInit}), or numbered the same way without opening anything
 * ({@linkcode planOfCreate}, for `debug plan`).
 */
export interface FdSource {
  /** `fd` moved to HIGH_FD or above (the original closed when `owned`). */
  high(fd: number, owned: boolean): number;
  /** Opens a namespace file. */
  open(path: string): number;
  /** A pipe: [read end, write end]. */
  pipe(): [number, number];
  /** The exec stub's memfd. */
  execStub(): number;
  /** A detached copy of a bind mount's source (open_tree). */
  openTree(path: string, flags: number, what: string): number;
}

/** The plan of an init and the fds the parent keeps for it. */
export interface InitPlan {
  plan: ReturnType<typeof buildInitProgram>;
  /** The control pipe's write end (the parent's). */
  ctlWr: number;
  /** A pid namespace to join around the clone. */
  pidNsJoin: number | undefined;
}

/** True when the init is put into its cgroup before it goes on (it waits for that). */
function joinsCgroup(o: CreateInitOptions): boolean {
  return o.joinCgroup !== undefined || (o.cgroupProcs?.length ?? 0) > 0;
}

/** The one place the options of an init's program are made from CreateInitOptions. */
export function planInit(o: CreateInitOptions, fds: FdSource): InitPlan {
  checkUnsupported(o.spec, o.warn);
  const spec = withHome(o.spec, o.rootfs);
  const nsFds: Partial<Record<NsType, number>> = {};
  let pidNsJoin: number | undefined;
  for (const ns of spec.linux?.namespaces ?? []) {
    if (!ns.path) continue;
    const fd = fds.high(fds.open(ns.path), true);
    if (ns.type === "pid") pidNsJoin = fd;
    else nsFds[ns.type as NsType] = fd;
  }
  const [ctlRd0, ctlWr] = fds.pipe();
  const ctlRd = fds.high(ctlRd0, true);
  // With a terminal the pty is the process's stdio: the caller's fds must not reach the child
  // at all (a created init holding them would keep the caller's pipes open).
  const stdio = o.consoleFd !== undefined
    ? [0, 1, 2] as [number, number, number]
    : o.stdio.map((fd, i) => (fd === i ? fd : fds.high(fd, false))) as [number, number, number];
  const plan = buildInitProgram({
    spec,
    rootfs: o.rootfs,
    stdio,
    preserveFds: (o.preserveFds ?? []).map((fd) => fds.high(fd, false)),
    ctlFd: ctlRd,
    nsFds,
    noPivot: o.noPivot ?? false,
    bindSources: bindSourceKinds(spec),
    ignoredSignals: [...CATCHABLE_SIGNALS],
    startImmediately: o.startImmediately ?? false,
    cgroupHierarchies: needsCgroupLayout(spec) ? cgroupLayout() : [],
    ...(o.consoleFd !== undefined ? { consoleFd: fds.high(o.consoleFd, false) } : {}),
    hookSync: CREATE_HOOKS.some((h) => (spec.hooks?.[h]?.length ?? 0) > 0),
    ...seccompOption(spec),
    resolvePath: (path) => resolveInRoot(o.rootfs, path),
    waitAtStart: joinsCgroup(o),
    ...execLabelOption(spec),
    execStubFd: fds.high(fds.execStub(), false),
    setgroupsDenied: rootless(),
    bindDevices: inUserNamespace(),
    ...rootfsMounts(o.rootfs, o.noPivot ?? false),
    lastCap: kernelLastCap(),
    bindSourceFds: openBindSources(spec, fds),
  });
  return { plan, ctlWr, pidNsJoin };
}

/**
 * The program `runts create` has its sandbox process run for an init of `spec`: the same
 * {@linkcode planInit}, with the fds numbered as they are there (stdio and the console received
 * over the control socket, everything moved to HIGH_FD and up in the same order) and nothing
 * opened.
 */
export function planOfCreate(
  o: Pick<CreateInitOptions, "spec" | "rootfs" | "cgroupProcs" | "noPivot"> & {
    preserveFds?: number;
  },
): ReturnType<typeof buildInitProgram> {
  let next = HIGH_FD;
  let outside = 1000;
  const fds: FdSource = {
    high: () => next++,
    open: () => outside++,
    pipe: () => [outside++, outside++],
    execStub: () => outside++,
    openTree: () => outside++,
  };
  const terminal = o.spec.process?.terminal === true;
  return planInit({
    spec: o.spec,
    rootfs: o.rootfs,
    stdio: [outside++, outside++, outside++],
    preserveFds: Array.from({ length: o.preserveFds ?? 0 }, () => outside++),
    noPivot: o.noPivot ?? false,
    ...(terminal ? { consoleFd: outside++ } : {}),
    ...(o.cgroupProcs !== undefined ? { cgroupProcs: o.cgroupProcs } : {}),
  }, fds).plan;
}

/** The lines that show an init's program: phases, steps and what each acts on. */
export function planText(program: Program): string[] {
  const lines: string[] = [];
  let phase = "";
  program.steps.forEach((s, i) => {
    if (s.opts.phase !== phase) {
      phase = s.opts.phase ?? "";
      lines.push(`## ${phase}`);
    }
    const about = s.opts.subject ? `    # ${s.opts.subject}` : "";
    lines.push(`${String(i).padStart(4)} ${describeStep(s)}${about}`);
  });
  return lines;
}

/** What the program needs to know of the host's mounts around the rootfs. */
function rootfsMounts(
  rootfs: string,
  noPivot: boolean,
): { rootfsParent?: { path: string; shared: boolean }; hostProcSys?: string[] } {
  let real = rootfs;
  try {
    real = Deno.realPathSync(rootfs);
  } catch {
    // a missing rootfs fails in the program, naming it
  }
  const mounts = parseMountinfo(Deno.readTextFileSync("/proc/self/mountinfo"));
  const parent = mountOf(mounts, real);
  return {
    ...(parent !== undefined
      ? {
        rootfsParent: {
          path: parent.mountPoint,
          shared: parent.optional.some((f) => f.startsWith("shared:")),
        },
      }
      : {}),
    ...(noPivot ? { hostProcSys: procSysOutside(mounts, real) } : {}),
  };
}

/** Creates a container init: clone, id maps, and the wait for its "created" report. */
export async function createInit(o: CreateInitOptions): Promise<Init> {
  await loadSeccompFor(o.spec);
  const opened: number[] = [];
  let ownPidNs: number | undefined;
  // Every fd the child uses is moved to HIGH_FD or above (its low numbers are scratch).
  const high = (fd: number, owned: boolean): number => {
    const h = dupAbove(fd, HIGH_FD);
    opened.push(h);
    if (owned) closeFd(fd);
    return h;
  };
  try {
    const { plan, ctlWr, pidNsJoin } = planInit(o, {
      high,
      open: (path) => openPath(path, 0),
      pipe,
      execStub: execStubFd,
      openTree: (path, flags, what) =>
        sys("open_tree", what, SYS.open_tree, AT_FDCWD, cstr(path), flags),
    });
    if (debugOn()) { for (const l of planText(plan.program)) debugLog(`init plan: ${l}`); }
    // Joining a pid namespace only affects children: do it on this thread around the clone.
    if (pidNsJoin !== undefined) {
      ownPidNs = openPath("/proc/self/ns/pid", 0);
      opened.push(ownPidNs);
      setns(pidNsJoin, NS_FLAG.pid, "pid namespace");
    }
    mark(`init: program built (${plan.program.steps.length} steps)`);
    let spawned;
    try {
      spawned = spawnProgram(plan.program, {
        flags: plan.cloneFlags | (o.cloneParent ? CLONE.PARENT : 0),
      });
    } finally {
      if (ownPidNs !== undefined) setns(ownPidNs, NS_FLAG.pid, "own pid namespace");
    }
    const channel = new InitChannel(ctlWr, spawned.reportFd, plan.program);
    const init = new Init({
      pid: spawned.pid,
      pidfd: spawned.pidfd,
      channel,
      own: !o.cloneParent,
    });
    try {
      try {
        if (o.joinCgroup) o.joinCgroup(spawned.pid);
        else joinCgroup(spawned.pid, o.cgroupProcs ?? []);
      } catch (e) {
        // The child makes its mounts while it is being joined (see buildInit): one that failed
        // there has exited, and its report is the error to show, not the join's ESRCH.
        pidfdSignal(spawned.pidfd, SIGKILL);
        const r = await channel.next().catch(() => undefined);
        if (r?.kind === "failed") throw channel.error(r);
        throw e;
      }
      if (plan.newUser) writeIdMaps(spawned.pid, o.spec);
      if (plan.newUser || joinsCgroup(o)) channel.send("sync");
      let r = await channel.next();
      if (r.kind === "hooks") {
        const state = ociStateOf({
          id: o.hookState?.id ?? "",
          status: "creating",
          pid: spawned.pid,
          bundle: o.hookState?.bundle ?? "",
          annotations: o.hookState?.annotations,
        });
        await runHooks("prestart", o.spec.hooks, state);
        await runHooks("createRuntime", o.spec.hooks, state);
        await runHooks(
          "createContainer",
          o.spec.hooks,
          state,
          containerPlace(spawned.pid, spawned.pidfd),
        );
        channel.send("hooksDone");
        r = await channel.next();
      }
      // A filter loaded before the capabilities are dropped reports its listener now.
      if (r.kind === "notify") {
        init.onListener = o.onListener;
        init.takeListener();
        r = await channel.next();
      }
      if (r.kind === "ready") {
        mark("init: ready");
        return init;
      }
      if (r.kind === "failed") throw channel.error(r);
      throw new Error("container init exited before it was ready");
    } catch (e) {
      // The child exits by itself after a failure report; kill it anyway, and reap it.
      pidfdSignal(spawned.pidfd, SIGKILL);
      if (!o.cloneParent) reapBlocking(spawned.pid);
      else await pollPidfd(spawned.pidfd, 5000);
      init.close();
      throw e;
    }
  } finally {
    for (const fd of opened) closeFd(fd);
  }
}

/** Puts a process into a cgroup: its pid into each cgroup.procs file. */
export function joinCgroup(pid: number, procsFiles: string[]): void {
  for (const f of procsFiles) {
    try {
      Deno.writeTextFileSync(f, String(pid));
    } catch (e) {
      throw new Error(`joining cgroup ${JSON.stringify(f)}: ${(e as Error).message}`);
    }
  }
}

/** The caller is not root: id maps, groups and cgroups follow the rootless rules. */
function rootless(): boolean {
  return (Deno.uid() ?? 0) !== 0;
}

function writeIdMaps(pid: number, spec: Spec): void {
  if (rootless()) {
    writeMapsRootless({
      pid,
      uidMappings: spec.linux?.uidMappings ?? [],
      gidMappings: spec.linux?.gidMappings ?? [],
      writeProc: (file, text) => writeProcFile(pid, file, text),
    });
    return;
  }
  const uid = idMap(spec.linux?.uidMappings);
  const gid = idMap(spec.linux?.gidMappings);
  for (const [file, text] of [["uid_map", uid], ["gid_map", gid]] as const) {
    if (text !== "") writeProcFile(pid, file, text);
  }
}

function writeProcFile(pid: number, file: string, text: string): void {
  const fd = openPath(`/proc/${pid}/${file}`, 1);
  try {
    writeAll(fd, new TextEncoder().encode(text), `/proc/${pid}/${file}`);
  } catch (e) {
    throw new Error(`writing ${file} ${JSON.stringify(text.trim())}: ${(e as Error).message}`);
  } finally {
    closeFd(fd);
  }
}

/**
 * The process an exec forked into the container's pid namespace (buildExecForked): its pid
 * comes on the report pipe, then the intermediate exits and is reaped; the report pipe is the
 * forked process's from then on.
 */
async function forkedProcess(
  spawned: Spawned,
  program: Program,
  cloneParent: boolean | undefined,
): Promise<Spawned> {
  const r = await readReport(spawned.reportFd);
  if (!cloneParent) reapBlocking(spawned.pid);
  else await pollPidfd(spawned.pidfd, 5000);
  closeFd(spawned.pidfd);
  if (r.kind !== "pid") {
    closeFd(spawned.reportFd);
    throw r.kind === "failed"
      ? reportError(program, r.index, r.errno)
      : new Error("the process exited before it was ready");
  }
  const pidfd = pidfdOpen(r.pid);
  if (pidfd === undefined) {
    closeFd(spawned.reportFd);
    throw new Error(`the process forked into the container's pid namespace (${r.pid}) is gone`);
  }
  if (!cloneParent) ownChildren.add(r.pid);
  return { pid: r.pid, pidfd, reportFd: spawned.reportFd };
}

/** Options of execProcess(). */
export interface ExecOptions {
  /** Host pid of the container's init and its recorded start time. */
  initPid: number;
  initStartTime: string;
  /** The container's spec with `process` set to the process to run. */
  spec: Spec;
  /** stdin, stdout, stderr. */
  stdio: [number, number, number];
  /** Extra fds passed as 3, 4, ... */
  preserveFds?: number[];
  /** The process becomes a child of our parent (a `--pid-file` subreaper reaps it). */
  cloneParent?: boolean;
  /** A connected console socket for process.terminal. */
  consoleFd?: number;
  /** The container, for the state sent with a seccomp listener (linux.seccomp.listenerPath). */
  container?: { id: string; bundle: string };
  /** cgroup.procs files to join instead of the init's cgroups (`exec --cgroup`). */
  cgroupProcs?: string[];
}

/**
 * Starts a process inside a running container: it joins the init's namespaces through a
 * pidfd (no pid-reuse race), then gets the same process setup as an init. Resolves once it has
 * exec'd; throws with the failing step otherwise.
 */
export async function execProcess(o: ExecOptions): Promise<ContainerProcess> {
  await loadSeccompFor(o.spec);
  for (const w of checkCapabilities(o.spec, kernelLastCap())) printWarning(w);
  o = { ...o, spec: withHome(o.spec, `/proc/${o.initPid}/root`) };
  const pidfd = pidfdOpen(o.initPid);
  if (pidfd === undefined || startTime(o.initPid) !== o.initStartTime) {
    if (pidfd !== undefined) closeFd(pidfd);
    throw new Error("the container is not running");
  }
  const opened: number[] = [pidfd];
  const high = (fd: number): number => {
    const h = dupAbove(fd, HIGH_FD);
    opened.push(h);
    return h;
  };
  let ownPidNs: number | undefined;
  try {
    const { nsFlags, joinPid } = nsJoinFlags(o.initPid);
    // Without root of the host, only a process inside the container's user namespace may join
    // its pid namespace, and root of a user namespace may not come back to the host's: the
    // child joins it and forks (buildExecForked).
    const forkIntoPidNs = joinPid && (rootless() || inUserNamespace());
    const stdio = o.stdio.map((fd, i) => (fd === i ? fd : high(fd))) as [number, number, number];
    const [ctlRd, ctlWr] = pipe();
    opened.push(ctlRd);
    const plan = buildInitProgram({
      spec: o.spec,
      rootfs: "",
      stdio,
      preserveFds: (o.preserveFds ?? []).map(high),
      ctlFd: high(ctlRd),
      ignoredSignals: [...CATCHABLE_SIGNALS],
      startImmediately: true,
      waitAtStart: true,
      exec: { pidfd: high(pidfd), nsFlags, forkIntoPidNs },
      ...seccompOption(o.spec),
      ...execLabelOption(o.spec),
      execStubFd: high(execStubFd()),
      setgroupsDenied: rootless(),
      lastCap: kernelLastCap(),
      ...(o.consoleFd !== undefined ? { consoleFd: high(o.consoleFd) } : {}),
    });
    // Joining a pid namespace only affects children: do it on this thread around the clone.
    if (joinPid && !forkIntoPidNs) {
      ownPidNs = openPath("/proc/self/ns/pid", 0);
      opened.push(ownPidNs);
      setns(pidfd, NS_FLAG.pid, "the container's pid namespace");
    }
    let spawned;
    try {
      spawned = spawnProgram(plan.program, { flags: o.cloneParent ? CLONE.PARENT : 0 });
    } finally {
      if (ownPidNs !== undefined) setns(ownPidNs, NS_FLAG.pid, "own pid namespace");
    }
    if (forkIntoPidNs) spawned = await forkedProcess(spawned, plan.program, o.cloneParent);
    const channel = new InitChannel(ctlWr, spawned.reportFd, plan.program);
    const proc = new ContainerProcess({
      pid: spawned.pid,
      pidfd: spawned.pidfd,
      channel,
      own: !o.cloneParent,
    });
    proc.onListener = listenerSender(o.spec, {
      id: o.container?.id ?? "",
      bundle: o.container?.bundle ?? "",
      status: "running",
    });
    try {
      joinCgroup(spawned.pid, o.cgroupProcs ?? cgroupProcsOf(o.initPid));
      channel.send("sync");
    } catch (e) {
      killPid(spawned.pid, SIGKILL);
      if (!o.cloneParent) reapBlocking(spawned.pid);
      proc.close();
      throw e;
    }
    let r = await channel.next();
    if (r.kind === "notify") {
      proc.takeListener();
      r = await channel.next();
    }
    if (r.kind !== "ready") {
      if (!o.cloneParent) reapBlocking(spawned.pid);
      else await pollPidfd(spawned.pidfd, 5000);
      proc.close();
      throw r.kind === "failed"
        ? channel.error(r)
        : new Error("the process exited before it was ready");
    }
    await proc.started();
    return proc;
  } finally {
    for (const fd of opened) closeFd(fd);
  }
}
