/**
 * `create`: claims the id (the whole state directory appears at once), starts the sandbox
 * process (or joins the pod's), asks it for the container and records the init, all under the
 * container's lock. A create killed at any moment leaves what `delete --force` removes.
 * @module
 */
import { writePidFile } from "./pidfile.ts";
import { closeFd } from "../../ffi/process.ts";
import { listenUnix } from "../../ffi/socket.ts";
import { connectConsoleSocket } from "../linux/console.ts";
import { startTime } from "../linux/procs.ts";
import { pinSystemdCgroupsPath } from "../cgroup/systemd_path.ts";
import { selectPlatform } from "../kvm/platform.ts";
import { loadBundle } from "../oci/config.ts";
import type { Spec } from "../oci/spec.ts";
import { SandboxClient } from "../sandbox/client.ts";
import { startSandbox } from "../sandbox/sandbox.ts";
import { adoptSpare, spareEnabled, spareKey, startSpare } from "../sandbox/spare.ts";
import { Container, type Runtime } from "./container.ts";
import { destroyLocked } from "./delete.ts";
import { type ContainerRecord, ContainerStore } from "./record.ts";

/** Options of {@linkcode createContainer} (what `runts create` takes). */
export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  /** Set up the root with chroot instead of pivot_root. */
  noPivot: boolean;
  /** Number of fds from 3 up that the container keeps. */
  preserveFds: number;
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

/** What a bundle gives a new container. */
export interface Claimed {
  store: ContainerStore;
  rec: ContainerRecord;
  spec: Spec;
  /** The pod's root container when this one joins an existing sandbox. */
  root: ContainerRecord | undefined;
  /** The checked /dev/kvm (platform kvm), -1 otherwise; the caller closes it. */
  kvmFd: number;
}

/**
 * Loads and checks the bundle and claims the id: the state directory appears with the record
 * (status `creating`) and the spec, or not at all.
 * @throws {ContainerExistsError} when the id is taken.
 */
export async function claim(
  rt: Pick<Runtime, "root" | "systemdCgroup" | "platform">,
  o: Pick<CreateOptions, "id" | "bundle" | "consoleSocket" | "pidFile">,
  self?: { sandboxPid: number; sandboxStartTime: string },
  loaded?: ReturnType<typeof loadBundle>,
): Promise<Claimed> {
  const store = new ContainerStore(rt.root);
  store.validateId(o.id);
  const { spec, rootfs, bundle } = loaded ?? loadBundle(o.bundle);
  if (rt.systemdCgroup) pinSystemdCgroupsPath(spec, o.id);
  const terminal = spec.process?.terminal === true;
  if (terminal && o.consoleSocket === undefined && self === undefined) {
    throw new Error("process.terminal is true: --console-socket is required");
  }
  if (!terminal && o.consoleSocket !== undefined) {
    throw new Error("--console-socket given but process.terminal is false");
  }
  // A container whose annotations name a sandbox joins that sandbox's process (a pod).
  const sandboxId = sandboxIdOf(spec.annotations) ?? o.id;
  let root: ContainerRecord | undefined;
  if (sandboxId !== o.id) {
    root = store.tryLoad(sandboxId);
    if (root === undefined) throw new Error(`sandbox "${sandboxId}" does not exist`);
    if (!Container.of(store, root).sandboxAlive()) {
      throw new Error(`sandbox "${sandboxId}" is not running`);
    }
  }
  const sandbox = self ??
    (root?.sandboxPid !== undefined
      ? { sandboxPid: root.sandboxPid, sandboxStartTime: root.sandboxStartTime ?? "" }
      : {});
  // Platform kvm: /dev/kvm is opened and checked here, before anything exists.
  // (the KVM code is loaded only for it)
  const kvmFd = selectPlatform(rt.platform, spec.annotations) === "kvm"
    ? (await import("../kvm/device.ts")).openKvm().fd
    : -1;
  let rec: ContainerRecord;
  try {
    rec = store.create(o.id, {
      id: o.id,
      bundle,
      rootfs,
      status: "creating",
      pid: 0,
      initStartTime: "",
      created: new Date().toISOString(),
      annotations: spec.annotations ?? {},
      sandboxId,
      socketPath: root?.socketPath ?? store.socketPath(o.id),
      pidFileUsed: o.pidFile !== undefined,
      owner: "",
      ...sandbox,
      // exec starts from the container's spec as it was created (runc keeps it in its state).
    }, spec);
  } catch (e) {
    closeFd(kvmFd);
    throw e;
  }
  return { store, rec, spec, root, kvmFd };
}

/** Creates a container (in a new sandbox process, or in its pod's) and returns it. */
export async function createContainer(rt: Runtime, o: CreateOptions): Promise<Container> {
  const { store, spec, root, kvmFd } = await claim(rt, o);
  // A spare sandbox process of this --root (started by an earlier create) saves a Deno start.
  // Not with a pid file: then the init must become the caller's child (CLONE_PARENT from the
  // sandbox process, whose parent is the create that started it), and a spare's parent is an
  // earlier create's caller (a containerd shim or conmon of another container).
  const spareKeyed = root === undefined && o.pidFile === undefined && spareEnabled()
    ? spareKey(rt)
    : undefined;
  const made = await store.withLockAsync(o.id, async () => {
    // Loaded again under the lock: a delete --force may have been quicker.
    const c = Container.of(store, store.load(o.id));
    const rec = c.rec;
    let listenFd = -1;
    let consoleFd = -1;
    try {
      if (o.consoleSocket !== undefined) consoleFd = connectConsoleSocket(o.consoleSocket);
      const spare = spareKeyed === undefined
        ? undefined
        : adoptSpare(store.root, spareKeyed, rec.socketPath);
      if (spare !== undefined) {
        rec.sandboxPid = spare.pid;
        rec.sandboxStartTime = spare.startTime;
        c.saveLocked();
      } else if (root === undefined) {
        listenFd = listenUnix(rec.socketPath, { mode: 0o600, backlog: 16 });
        await startSandbox({
          root: store.root,
          id: o.id,
          listenFd,
          logPath: store.logPath(o.id),
          debug: rt.debug,
          systemdCgroup: rt.systemdCgroup === true,
          onSpawned: (sb) => {
            rec.sandboxPid = sb.pid;
            rec.sandboxStartTime = sb.startTime;
            c.saveLocked();
          },
        });
        closeFd(listenFd);
        listenFd = -1;
      }
      const sb = SandboxClient.connect(rec.socketPath);
      try {
        const { pid, warnings } = sb.create({
          id: o.id,
          spec,
          rootfs: rec.rootfs,
          bundle: rec.bundle,
          cloneParent: o.pidFile !== undefined,
          noPivot: o.noPivot,
          preserveFds: o.preserveFds,
        }, {
          stdio: [0, 1, 2],
          preserve: Array.from({ length: o.preserveFds }, (_, i) => 3 + i),
          ...(consoleFd >= 0 ? { console: consoleFd } : {}),
          ...(kvmFd >= 0 ? { kvm: kvmFd } : {}),
        });
        // The sandbox process's checks before it made anything (src/boot/containers.ts).
        for (const w of warnings ?? []) console.error(`runts: warning: ${w}`);
        rec.pid = pid;
        rec.initStartTime = startTime(pid) ?? "";
        rec.status = "created";
        if (o.pidFile !== undefined) writePidFile(o.pidFile, pid);
        c.saveLocked();
      } finally {
        sb.close();
      }
      return c;
    } catch (e) {
      closeFd(listenFd);
      const why = lastLogLine(store.logPath(o.id));
      if (why !== "" && e instanceof Error) e.message += ` (sandbox process: ${why})`;
      await destroyLocked(c);
      throw e;
    } finally {
      closeFd(consoleFd);
      closeFd(kvmFd);
    }
  });
  // The next create's: started once this one is done, so it costs this create only the clone.
  if (spareKeyed !== undefined) await startSpare(store.root, spareKeyed, rt);
  return made;
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
