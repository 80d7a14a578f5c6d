/**
 * The sandbox process as a container's record names it, and whether it still runs. Apart from
 * sandbox.ts (which starts it) so that commands that only look at a container (`state`,
 * `start`) load no more than /proc reading.
 * @module
 */
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
