/**
 * The sandbox process as a container's record names it, and whether it still runs. Apart from
 * sandbox.ts (which starts it) so that commands that only look at a container (`state`,
 * `start`) load no more than /proc reading (and `delete` no syscall program).
 * @module
 */
import { killAndWait } from "../linux/kill.ts";
import { procAlive } from "../linux/procs.ts";

/** The sandbox process as recorded in a container's state. */
export interface SandboxProcess {
  pid: number;
  startTime: string;
}

/** True when the recorded sandbox process still runs (same pid and start time). */
export function sandboxAlive(sb: SandboxProcess | undefined): boolean {
  return sb !== undefined && procAlive(sb.pid, sb.startTime);
}

/** Kills a recorded sandbox process (if it is still the same process) and waits for it (unless `wait` is false). */
export async function killSandbox(
  sb: SandboxProcess | undefined,
  o: { wait?: boolean } = {},
): Promise<void> {
  if (!sandboxAlive(sb)) return;
  await killAndWait(sb!.pid, sb!.startTime, o.wait === false ? 0 : 5000);
}
