/**
 * `runts wait ID`: blocks until the container's init exits and prints its exit status as JSON.
 * When the init was handed to the caller's subreaper (create --pid-file), that reaper got the
 * status: wait reports the exit and says so.
 * @module
 */
import { closeFd, pidfdOpen, pollPidfd } from "../../ffi/process.ts";
import { startTime } from "../linux/procs.ts";
import { RpcClient } from "../rpc/client.ts";
import * as M from "../rpc/methods.ts";
import { loadContainer, sandboxOf } from "../sandbox/lifecycle.ts";
import { sandboxAlive } from "../sandbox/sandbox.ts";
import type { GlobalOptions } from "./context.ts";
import { oneId } from "./start.ts";

/** Runs wait. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const id = oneId(argv, "wait");
  const { rec } = loadContainer(g, id);
  let result: M.WaitResult = { code: null };
  if (sandboxAlive(sandboxOf(rec))) {
    const client = RpcClient.connect(rec.socketPath);
    try {
      result = (await client.call(M.WAIT, { id } satisfies M.IdArgs)).result as M.WaitResult;
    } finally {
      client.close();
    }
  } else {
    const fd = pidfdOpen(rec.pid);
    if (fd !== undefined) {
      try {
        if (startTime(rec.pid) === rec.initStartTime) await pollPidfd(fd);
      } finally {
        closeFd(fd);
      }
    }
  }
  const out: Record<string, unknown> = { id, exitStatus: result.code };
  if (result.signal !== undefined) out.signal = result.signal;
  if (result.code === null) {
    out.reaper = rec.pidFileUsed
      ? "the caller's subreaper (create --pid-file) received the exit status"
      : "the sandbox process is gone; the exit status is not known";
  }
  console.log(JSON.stringify(out));
  return 0;
}
