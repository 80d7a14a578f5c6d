/** `start`: releases a created container's init, under its lock. @module */
import { SandboxClient } from "../sandbox/client.ts";
import { Container, type Runtime } from "./container.ts";

/**
 * Starts a created container. Of two starts at once, the second waits for the lock and is
 * then refused (`cannot start container "web": it is running`).
 */
export async function startContainer(rt: Pick<Runtime, "root">, id: string): Promise<void> {
  await Container.locked(rt, id, async (c) => {
    c.check("start");
    try {
      const warnings = await SandboxClient.with(c.rec.socketPath, (sb) => sb.start(id));
      for (const w of warnings) console.error(`runts: warning: ${w}`);
    } catch (e) {
      // A failed start (a startContainer or poststart hook) has killed the init.
      c.rec.status = "stopped";
      c.saveLocked();
      throw e;
    }
    c.rec.status = "running";
    c.saveLocked();
  });
}
