/**
 * Killing a process known by pid and start time, through a pidfd, and waiting for its end.
 * @module
 */
import { closeFd, pidfdOpen, pidfdSignal, pollPidfd } from "../../ffi/process.ts";
import { startTime } from "./procs.ts";
import { SIGKILL } from "./signals.ts";

/**
 * SIGKILLs `pid` if it is still the process that started at `start` (a reused pid is left
 * alone), and waits up to `timeoutMs` (0: not at all) for it to end. `first` runs once the process is known to
 * be that one, before the signal (to kill what it leaves behind first).
 */
export async function killAndWait(
  pid: number,
  start: string,
  timeoutMs: number,
  first?: () => void,
): Promise<void> {
  const fd = pidfdOpen(pid);
  if (fd === undefined) return;
  try {
    if (startTime(pid) !== start) return;
    first?.();
    // Through the pidfd: the process may be gone (and reaped) by now; that is fine.
    pidfdSignal(fd, SIGKILL);
    if (timeoutMs > 0) await pollPidfd(fd, timeoutMs);
  } finally {
    closeFd(fd);
  }
}
