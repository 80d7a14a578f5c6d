/**
 * Waiting a while without Deno's timers: a timerfd, watched by the process-wide watcher
 * (ffi/watcher.ts). Deno's first setTimeout or setInterval sets up its timer machinery, which
 * costs a short command 6-16 ms and a sandbox process ~1.8 MiB of memory (measured, see
 * docs/benchmarks.md); runts' own waits use this instead.
 * @module
 */
import { closeFd } from "./process.ts";
import { sys } from "./syscall.ts";
import { SYS } from "./sysno_x86_64.ts";
import { readable } from "./watcher.ts";

const CLOCK_MONOTONIC = 1;
const TFD_CLOEXEC = 0o2000000;
const TFD_NONBLOCK = 0o4000;

/** Resolves after `ms` milliseconds (at the next turn of the event loop for 0). */
export async function sleep(ms: number): Promise<void> {
  const fd = sys(
    "timerfd_create",
    "CLOCK_MONOTONIC",
    SYS.timerfd_create,
    CLOCK_MONOTONIC,
    TFD_CLOEXEC | TFD_NONBLOCK,
  );
  try {
    // struct itimerspec { it_interval; it_value } of two struct timespec { sec; nsec }: a zero
    // it_value disarms the timer, so 0 ms is one nanosecond.
    const spec = new Uint8Array(32);
    const dv = new DataView(spec.buffer);
    const ns = Math.max(1, Math.round(ms * 1e6));
    dv.setBigInt64(16, BigInt(Math.floor(ns / 1e9)), true);
    dv.setBigInt64(24, BigInt(ns % 1e9), true);
    sys("timerfd_settime", `${ms} ms`, SYS.timerfd_settime, fd, 0, spec, null);
    await readable(fd);
  } finally {
    closeFd(fd);
  }
}
