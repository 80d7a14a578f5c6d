/** `kill`: signals a container's init, or all its processes, under its lock. @module */
import { containerPids } from "../linux/procs.ts";
import { SIGKILL } from "../linux/signals.ts";
import { Container, type Runtime } from "./container.ts";
import { signalChecked } from "./delete.ts";

/** Options of {@linkcode killContainer}. */
export interface KillOptions {
  signal: number;
  /** Every process of the container, not only the init. */
  all: boolean;
}

/** Sends a signal to the init, or to all the container's processes. */
export async function killContainer(
  rt: Pick<Runtime, "root">,
  id: string,
  o: KillOptions,
): Promise<void> {
  await Container.locked(rt, id, async (c) => {
    // `kill --all` of a stopped container succeeds, as with runc (containerd's shims send it
    // after every exit).
    if (o.all && c.status() === "stopped") return;
    const status = c.check("kill");
    const rec = c.rec;
    const pids = o.all ? containerPids(rec.pid) : [rec.pid];
    for (const pid of pids) {
      signalChecked(pid, pid === rec.pid ? rec.initStartTime : undefined, o.signal);
    }
    // A frozen process acts on SIGKILL only once thawed (runc does the same).
    // (The cgroup code is loaded only then.)
    if (o.signal === SIGKILL && status === "paused") {
      (await (await import("./cgroup.ts")).containerCgroup(c))?.thaw();
    }
  });
}
