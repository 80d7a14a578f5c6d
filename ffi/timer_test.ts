import { assertEquals } from "../tests/assert.ts";
import { sleep } from "./timer.ts";

const fdCount = () => [...Deno.readDirSync("/proc/self/fd")].length;

Deno.test("sleep() resolves, at once for 0, and leaves no fd open", async () => {
  await sleep(0); // the process-wide watcher (an epoll fd and an eventfd) is made once
  const before = fdCount();
  await sleep(0);
  await sleep(5);
  await Promise.all([sleep(1), sleep(2), sleep(0)]);
  assertEquals(fdCount(), before);
});

Deno.test("sleep(ms) lasts at least ms (a timerfd does not fire early)", async () => {
  const t = performance.now();
  await sleep(30);
  const took = performance.now() - t;
  assertEquals(took >= 29, true, `${took.toFixed(1)} ms`);
});

Deno.test("sleep() does not start Deno's timers (no setTimeout machinery)", async () => {
  const seen: string[] = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((...a: Parameters<typeof setTimeout>) => {
    seen.push("setTimeout");
    return original(...a);
  }) as typeof setTimeout;
  try {
    await sleep(1);
  } finally {
    globalThis.setTimeout = original;
  }
  assertEquals(seen, []);
});
