/**
 * `runts boot [--debug] ID`: the sandbox process (internal). Started by create with the
 * listening control socket as fd 3; serves it until its last container is destroyed.
 * `runts boot --spare`: the same, started ahead of the next create (src/sandbox/spare.ts).
 * @module
 */
import { ownChildren } from "../../ffi/clone.ts";
import { closeFd, dupOnto, openPath, prctl, reapNoHang } from "../../ffi/process.ts";
import { ContainerStore } from "../container/record.ts";
import { mark } from "../trace.ts";
import { reapOrphans } from "../linux/procs.ts";
import { ContainerManager } from "../boot/containers.ts";
import { serveControl } from "../boot/serve.ts";
import { O, PR } from "../linux/consts.ts";
import type { GlobalOptions } from "./context.ts";
import { parseCommandArgs } from "./defs.ts";
import { spareIdleMs, watchSpare } from "../sandbox/spare.ts";
import { sleep } from "../../ffi/timer.ts";

/** fd of the listening control socket in the sandbox process. */
export const CONTROL_FD = 3;

/** Parses boot's arguments: `ID [--creator PID]` or `--spare=SOCKET`. */
export function parseBootArgs(
  argv: string[],
): { id: string; creator?: number } | { spare: string } {
  const { values, positionals } = parseCommandArgs("boot", argv);
  if (values.spare !== undefined) {
    if (positionals.length !== 0 || values.creator !== undefined) {
      throw new Error("boot: --spare takes no container id and no --creator");
    }
    return { spare: String(values.spare) };
  }
  if (positionals.length !== 1) {
    throw new Error(`boot: expected one container id, got ${positionals.length}`);
  }
  return {
    id: positionals[0]!,
    ...(values.creator !== undefined ? { creator: Number(values.creator) } : {}),
  };
}

/** Runs the sandbox process. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseBootArgs(argv);
  // The creator died before the parent-death signal was armed: nobody will ask for a container.
  if ("creator" in a && a.creator !== undefined && Deno.ppid !== a.creator) return 1;
  // Orphans of the containers come to us, not to the host's init.
  prctl(PR.SET_CHILD_SUBREAPER, 1);
  const mgr = new ContainerManager({ systemdCgroup: g.systemdCgroup === true });
  // As a subreaper we inherit orphans of the containers: reap those nobody waits for.
  Deno.addSignalListener("SIGCHLD", () => {
    reapOrphans(mgr.trackedPids(), ownChildren, (pid) => reapNoHang(pid));
  });
  mgr.onEmpty = () => void sleep(0).then(() => Deno.exit(0));
  if ("spare" in a) {
    const adopted = watchSpare(g.root, a.spare, spareIdleMs());
    mgr.onCreate = (id) => {
      mgr.onCreate = () => {};
      adopted(id);
      // A spare was started before its container had a state directory: from now on it logs
      // (stderr: warnings, --debug lines) where any sandbox process of this container would.
      try {
        const log = openPath(
          new ContainerStore(g.root).logPath(id),
          O.WRONLY | O.CREAT | O.APPEND,
          0o600,
        );
        dupOnto(log, 2);
        closeFd(log);
      } catch {
        // no log then, as before: the container is not refused for it
      }
    };
  }
  mark("boot: serving the control socket");
  await serveControl(mgr, CONTROL_FD).served;
  return 0;
}
