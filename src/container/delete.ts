/**
 * `delete`: kills what is left of a container (init, its processes, its place in the sandbox
 * process, the sandbox process of a root container), removes its cgroup, runs the poststop
 * hooks and removes its state directory, in one step under its lock.
 * @module
 */
import { closeFd, pidfdOpen, pidfdSignal } from "../../ffi/process.ts";
import { killAndWait } from "../linux/kill.ts";
import { containerPids, startTime } from "../linux/procs.ts";
import { SIGKILL } from "../linux/signals.ts";
import { ociStateOf } from "../oci/state.ts";
import { SandboxClient } from "../sandbox/client.ts";
import { killSandbox } from "../sandbox/kill.ts";
import { Container, type Runtime } from "./container.ts";
import { ContainerNotFoundError, ContainerStore, isAlive } from "./record.ts";

/** Deletes a container: refused unless stopped (or created), unless forced. */
export async function deleteContainer(
  rt: Pick<Runtime, "root">,
  id: string,
  force: boolean,
): Promise<void> {
  try {
    await Container.locked(rt, id, async (c) => {
      if (!force) c.check("delete");
      await destroyLocked(c, { deleted: true });
    });
  } catch (e) {
    if (!(force && e instanceof ContainerNotFoundError)) throw e;
    // Forced: a create killed before its directory was whole leaves only a partial one.
    new ContainerStore(rt.root).removePartial(id);
  }
}

/**
 * Kills everything of a container and removes its state directory. The caller holds the lock.
 * `delete` (with `deleted`) also removes the cgroup its spec names and runs the poststop hooks;
 * a create that failed leaves the cgroup to the sandbox process, which made it or refused it
 * (a cgroup that belongs to another container, such as an active systemd unit, is not ours).
 */
export async function destroyLocked(c: Container, o: { deleted?: boolean } = {}): Promise<void> {
  const rec = c.rec;
  // A live sandbox process thaws and kills the container's processes, waits for its init and
  // removes its cgroup, with the cgroup manager it made at create. When it is gone (or does not
  // answer, or left the cgroup), this process does it (and loads the cgroup code only then).
  const clean = destroyInSandbox(c);
  const cg = o.deleted && !clean
    ? await (await import("./cgroup.ts")).containerCgroup(c)
    : undefined;
  if (!clean) {
    // Frozen processes cannot die: thaw a paused container before killing it.
    try {
      if (cg?.frozen()) cg.thaw();
    } catch {
      // no freezer state to read: nothing is frozen
    }
    await killInit(rec);
  }
  // The root container's sandbox process ends with it (and every container in it). When it
  // has destroyed its last container it holds nothing: it is torn down (~4 ms for a Deno
  // process) while the rest is removed, and delete returns once it is gone.
  const sandboxEnded = rec.sandboxId === rec.id ? killSandbox(c.sandbox) : undefined;
  if (!clean) await sandboxEnded;
  await cg?.destroy().catch(() => {});
  if (o.deleted) await poststop(c.spec === undefined ? undefined : c);
  c.store.remove(rec.id);
  await sandboxEnded;
}

/** Runs the poststop hooks (runtime namespace); a failure is a warning, as the spec says. */
export async function poststop(c: Container | undefined): Promise<void> {
  const hooks = c?.spec?.hooks?.poststop ?? [];
  if (c === undefined || hooks.length === 0) return;
  const state = ociStateOf({
    id: c.id,
    status: "stopped",
    pid: c.rec.pid,
    bundle: c.rec.bundle,
    annotations: c.spec?.annotations,
  });
  // The hook runner (and the syscall program it uses) is loaded only when there are hooks.
  const { runHook } = await import("../linux/hooks.ts");
  // A failing poststop hook is a warning, and the remaining hooks still run (runtime-spec).
  for (const hook of hooks) {
    try {
      await runHook("poststop", hook, state);
    } catch (e) {
      console.error(`runts: warning: ${(e as Error).message}`);
    }
  }
}

/**
 * Asks the sandbox process to destroy a container (best effort: it may be gone or stuck, so the
 * answer is awaited for a few seconds at most). True when it answered that the container's
 * processes and cgroup are gone.
 */
function destroyInSandbox(c: Container): boolean {
  if (!c.sandboxAlive()) return false;
  let sb: SandboxClient | undefined;
  try {
    sb = SandboxClient.connect(c.rec.socketPath);
    return sb.destroy(c.id, DESTROY_TIMEOUT_MS).clean === true;
  } catch {
    // an unresponsive sandbox is killed by the caller when it is the container's own
    return false;
  } finally {
    sb?.close();
  }
}

const DESTROY_TIMEOUT_MS = 3000;

/** Signals a pid through a pidfd, after checking it is still the same process. */
export function signalChecked(pid: number, start: string | undefined, signal: number): boolean {
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
async function killInit(rec: Container["rec"]): Promise<void> {
  if (!isAlive(rec)) return;
  await killAndWait(rec.pid, rec.initStartTime, 10_000, () => {
    for (const pid of containerPids(rec.pid).reverse()) signalChecked(pid, undefined, SIGKILL);
  });
}
