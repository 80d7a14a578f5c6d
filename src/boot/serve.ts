/**
 * The control server of a sandbox process: the container manager's methods on a listening
 * socket, callable by root and the owning user. `runts boot` and a foreground `runts run` (which
 * is its own sandbox process) both serve through here.
 * @module
 */
import { RpcServer } from "../rpc/server.ts";
import type { ContainerManager } from "./containers.ts";
import { registerHandlers } from "./handlers.ts";

/** Serves `mgr` on the listening socket `listenFd`; close the server to stop. */
export function serveControl(
  mgr: ContainerManager,
  listenFd: number,
): { server: RpcServer; served: Promise<void> } {
  const uid = Deno.uid() ?? 0;
  const server = new RpcServer({ allowUid: (peer) => peer === 0 || peer === uid });
  registerHandlers(server, mgr);
  return { server, served: server.serve(listenFd) };
}
