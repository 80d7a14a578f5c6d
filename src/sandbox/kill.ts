/**
 * Killing a sandbox process: apart from sandbox.ts (which starts it with the syscall program)
 * and process.ts (which `state` loads), so that `delete` loads neither the program nor more
 * than it needs.
 * @module
 */
import { killAndWait } from "../linux/kill.ts";
import { sandboxAlive, type SandboxProcess } from "./process.ts";

/** Kills a recorded sandbox process (if it is still the same process) and waits for it (unless `wait` is false). */
export async function killSandbox(
  sb: SandboxProcess | undefined,
  o: { wait?: boolean } = {},
): Promise<void> {
  if (!sandboxAlive(sb)) return;
  await killAndWait(sb!.pid, sb!.startTime, o.wait === false ? 0 : 5000);
}
