/**
 * Waiting for fds to become readable (pidfds of exiting processes, report pipes) from one FFI
 * thread for the whole process: Deno runs at most 32 blocking FFI calls at once, so a blocked
 * call per process would stall a sandbox with many containers.
 * @module
 */
import { ReadyWaiter } from "./socket.ts";

let waiter: ReadyWaiter | undefined;
const pending = new Map<number, (() => void)[]>();
let looping = false;

async function loop(): Promise<void> {
  looping = true;
  try {
    while (pending.size > 0) {
      const ready = await waiter!.wait();
      for (const [fd] of ready) {
        const list = pending.get(fd);
        pending.delete(fd);
        waiter!.unwatch(fd);
        for (const resolve of list ?? []) resolve();
      }
    }
  } finally {
    looping = false;
  }
}

/**
 * Resolves when `fd` is readable (for a pidfd: the process has exited; for a pipe: data or
 * EOF). The fd must stay open until then.
 */
export function readable(fd: number): Promise<void> {
  waiter ??= new ReadyWaiter();
  return new Promise((resolve) => {
    const list = pending.get(fd);
    if (list) {
      list.push(resolve);
      return;
    }
    pending.set(fd, [resolve]);
    waiter!.watch(fd, { oneshot: true });
    if (!looping) void loop();
  });
}
