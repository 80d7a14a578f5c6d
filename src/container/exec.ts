/**
 * `exec`: starts a process in a container. The status is checked under the container's lock;
 * starting and waiting for the process are not (see {@linkcode execInContainer}).
 * @module
 */
import { warmCgroupMove } from "../cgroup/warm.ts";
import { type ContainerProcess, execProcess } from "../linux/init.ts";
import type { Process } from "../oci/spec.ts";
import { SandboxClient } from "../sandbox/client.ts";
import { Container, type Runtime } from "./container.ts";
import { writePidFile } from "./pidfile.ts";
import { canExec, refusal } from "./status.ts";

/** Options of {@linkcode execInContainer}. */
export interface ExecInOptions {
  /** The process to run, made from the container's own process (its stored spec). */
  process: (base: Process | undefined) => Process;
  /** Return once started; nobody here waits for it. */
  detach: boolean;
  pidFile?: string;
  /** Exec in a paused container too (`--ignore-paused`). */
  ignorePaused?: boolean;
  stdio: [number, number, number];
  /** Preserved fds (3, 4, ... in the process). */
  preserve: number[];
  /** The pty's end for the console socket, when the process has a terminal. */
  consoleFd?: number;
  /** The cgroup.procs files to join instead of the init's (`--cgroup`), given the init's pid. */
  cgroupProcs?: (initPid: number) => string[] | undefined;
}

/**
 * What was started: a process this one is the parent of (foreground, or with a pid file, as
 * with runc), or only a pid when the sandbox process is its parent (detached without a pid
 * file: nobody else would reap it).
 */
export type Started = { proc: ContainerProcess; pid?: never } | { pid: number; proc?: never };

/** The process spec exec would run in `id` (checks the status; for the console checks). */
export function execSpec(
  rt: Pick<Runtime, "root">,
  id: string,
  make: (base: Process | undefined) => Process,
): Process {
  return make(Container.load(rt, id).spec?.process);
}

/**
 * Starts a process in a created or running container. The status is checked under the lock;
 * the process is started after it is released: in a paused container (`--ignore-paused`) it
 * stays frozen, before it reports, until a `resume`, which takes the lock. A `delete` that comes
 * in between kills the init, and the start then fails on the init's pidfd (its start time is
 * checked), or the new process dies with the container's others.
 */
export async function execInContainer(
  rt: Pick<Runtime, "root">,
  id: string,
  o: ExecInOptions,
): Promise<Started> {
  // The process is moved into the container's cgroup after its clone, here or by the sandbox
  // process: the kernel's wait for cgroup moves runs meanwhile (see warmCgroupMove).
  warmCgroupMove();
  const { c, base } = await Container.locked(rt, id, (c) => {
    const status = c.status();
    if (!canExec(status, o.ignorePaused)) throw new Error(refusal("exec", id, status));
    return Promise.resolve({ c, base: c.spec });
  });
  if (base === undefined) throw new Error(`container ${JSON.stringify(id)} has no stored spec`);
  const spec = { ...base, process: o.process(base.process) };
  const cgroupProcs = o.cgroupProcs?.(c.rec.pid);
  if (o.detach && o.pidFile === undefined && c.sandboxAlive()) {
    const { pid } = await SandboxClient.with(
      c.rec.socketPath,
      (sb) =>
        Promise.resolve(sb.executeAsync({
          id,
          spec,
          preserveFds: o.preserve.length,
          ...(cgroupProcs ? { cgroupProcs } : {}),
        }, {
          stdio: o.stdio,
          preserve: o.preserve,
          ...(o.consoleFd !== undefined ? { console: o.consoleFd } : {}),
        })),
    );
    return { pid };
  }
  const proc = await execProcess({
    initPid: c.rec.pid,
    initStartTime: c.rec.initStartTime,
    container: { id, bundle: c.rec.bundle },
    spec,
    stdio: o.stdio,
    preserveFds: o.preserve,
    ...(o.consoleFd !== undefined ? { consoleFd: o.consoleFd } : {}),
    ...(cgroupProcs ? { cgroupProcs } : {}),
  });
  if (o.pidFile !== undefined) writePidFile(o.pidFile, proc.pid);
  return { proc };
}
