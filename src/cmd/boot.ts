/**
 * `runts boot [--debug] ID`: the sandbox process (internal). Started by create with the
 * listening control socket as fd 3; serves it until its last container is destroyed.
 * @module
 */
import { prctl, reapNoHang } from "../../ffi/process.ts";
import { mark } from "../trace.ts";
import { reapOrphans } from "../linux/procs.ts";
import { ContainerManager } from "../boot/containers.ts";
import { registerHandlers } from "../boot/handlers.ts";
import { PR } from "../linux/consts.ts";
import { RpcServer } from "../rpc/server.ts";
import type { GlobalOptions } from "./context.ts";
import { oneId } from "./start.ts";

/** fd of the listening control socket in the sandbox process. */
export const CONTROL_FD = 3;

/** Runs the sandbox process. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  oneId(argv, "boot");
  // Orphans of the containers come to us, not to the host's init.
  prctl(PR.SET_CHILD_SUBREAPER, 1);
  const mgr = new ContainerManager({ systemdCgroup: g.systemdCgroup === true });
  const uid = Deno.uid() ?? 0;
  const server = new RpcServer({ allowUid: (peer) => peer === 0 || peer === uid });
  registerHandlers(server, mgr);
  // As a subreaper we inherit orphans of the containers: reap those nobody waits for.
  Deno.addSignalListener("SIGCHLD", () => {
    reapOrphans(mgr.trackedPids(), (pid) => reapNoHang(pid));
  });
  mgr.onEmpty = () => setTimeout(() => Deno.exit(0), 0);
  mark("boot: serving the control socket");
  await server.serve(CONTROL_FD);
  return 0;
}
