/** `wait`: the exit status of a container's init. @module */
import { closeFd, pidfdOpen, pollPidfd } from "../../ffi/process.ts";
import { startTime } from "../linux/procs.ts";
import type { WaitResult } from "../rpc/methods.ts";
import { SandboxClient } from "../sandbox/client.ts";
import { Container, type Runtime } from "./container.ts";

/**
 * Waits for the init's exit (no lock: it may take a container's whole life). The status comes
 * from the sandbox process when it is the init's parent; `code` is null when it is not known.
 */
export async function waitContainer(
  rt: Pick<Runtime, "root">,
  id: string,
): Promise<{ result: WaitResult; pidFileUsed: boolean }> {
  const c = Container.load(rt, id);
  const rec = c.rec;
  let result: WaitResult = { code: null };
  if (c.sandboxAlive()) {
    result = await SandboxClient.with(rec.socketPath, (sb) => sb.wait(id));
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
  return { result, pidFileUsed: rec.pidFileUsed };
}
