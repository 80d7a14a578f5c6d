/**
 * Killing a sandbox process: apart from sandbox.ts (which starts it with the syscall program)
 * and process.ts (which `state` loads), so that `delete` loads neither the program nor more
 * than it needs.
 * @module
 */
import { killAndWait } from "../linux/kill.ts";
import { sandboxAlive, type SandboxProcess } from "./process.ts";

/**
 * Kills a recorded sandbox process (if it is still the same process) and resolves once it has
 * ended (5 s at most). The signal is sent before this returns its promise: a caller may do other
 * work while the process is torn down (a Deno process takes ~4 ms) and await the end after.
 */
export async function killSandbox(sb: SandboxProcess | undefined): Promise<void> {
  if (!sandboxAlive(sb)) return;
  await killAndWait(sb!.pid, sb!.startTime, 5000);
}
