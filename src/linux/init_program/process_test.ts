import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { ioprioValue, listMask, memPolicy, schedAttr } from "./process.ts";

Deno.test("schedAttr() lays out struct sched_attr (VER0) of process.scheduler", () => {
  const a = schedAttr({
    policy: "SCHED_DEADLINE",
    flags: ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN"],
    runtime: 10_000_000,
    deadline: 30_000_000,
    period: 30_000_000,
  });
  const v = new DataView(a.buffer);
  assertEquals(a.byteLength, 48);
  assertEquals([v.getUint32(0, true), v.getUint32(4, true)], [48, 6]);
  assertEquals(v.getBigUint64(8, true), 0x05n);
  assertEquals([v.getInt32(16, true), v.getUint32(20, true)], [0, 0]);
  assertEquals(
    [v.getBigUint64(24, true), v.getBigUint64(32, true), v.getBigUint64(40, true)],
    [10_000_000n, 30_000_000n, 30_000_000n],
  );
  const b = new DataView(schedAttr({ policy: "SCHED_BATCH", nice: -3 }).buffer);
  assertEquals([b.getUint32(4, true), b.getInt32(16, true)], [3, -3]);
  const f = new DataView(schedAttr({ policy: "SCHED_FIFO", priority: 42 }).buffer);
  assertEquals([f.getUint32(4, true), f.getUint32(20, true)], [1, 42]);
});

Deno.test("schedAttr() names a bad policy, flag or priority", () => {
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => schedAttr({ policy: "SCHED_X" as any }),
    Error,
    'process.scheduler.policy: unknown policy "SCHED_X"',
  );
  assertThrows(
    () => schedAttr({ policy: "SCHED_OTHER", flags: ["SCHED_FLAG_NOPE"] }),
    Error,
    'process.scheduler.flags: unknown flag "SCHED_FLAG_NOPE"',
  );
  assertThrows(
    () => schedAttr({ policy: "SCHED_BATCH", priority: 1 }),
    Error,
    "process.scheduler.priority: only SCHED_FIFO and SCHED_RR have one, not SCHED_BATCH",
  );
});

Deno.test("ioprioValue() puts the class in bits 13-15 and the level below", () => {
  assertEquals(ioprioValue({ class: "IOPRIO_CLASS_RT", priority: 0 }), 1 << 13);
  assertEquals(ioprioValue({ class: "IOPRIO_CLASS_BE", priority: 6 }), 2 << 13 | 6);
  assertEquals(ioprioValue({ class: "IOPRIO_CLASS_IDLE", priority: 7 }), 3 << 13 | 7);
});

Deno.test("listMask() reads a CPU or node list into a 1024-bit mask", () => {
  const m = listMask("0-3,7, 9", "f", "CPUs")!;
  assertEquals(m.byteLength, 128);
  assertEquals([m[0], m[1], m[2]], [0b1000_1111, 0b10, 0]);
  assertEquals(listMask("1023", "f", "CPUs")![127], 0x80);
  assertEquals(listMask("", "f", "CPUs"), undefined);
  for (const bad of ["3-1", "1024", "a", "1,,2", "-1", "0-"]) {
    assertThrows(
      () => listMask(bad, "process.execCPUAffinity.final", "CPUs"),
      Error,
      `process.execCPUAffinity.final: ${JSON.stringify(bad)} is not a list of CPUs 0 to 1023`,
    );
  }
});

Deno.test("memPolicy() gives set_mempolicy's mode with its flags, and the node mask", () => {
  const p = memPolicy({ mode: "MPOL_BIND", nodes: "0,2", flags: ["MPOL_F_STATIC_NODES"] });
  assertEquals(p.mode, 2 | 1 << 15);
  assertEquals(p.nodes![0], 0b101);
  assertEquals(memPolicy({ mode: "MPOL_LOCAL", nodes: "" }), { mode: 4, nodes: undefined });
  assertThrows(
    () => memPolicy({ mode: "MPOL_NOPE", nodes: "0" }),
    Error,
    'linux.memoryPolicy.mode: unknown mode "MPOL_NOPE"',
  );
  assertThrows(
    () => memPolicy({ mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_X"] }),
    Error,
    'linux.memoryPolicy.flags: unknown flag "MPOL_F_X"',
  );
  assertThrows(
    () => memPolicy({ mode: "MPOL_BIND", nodes: "x" }),
    Error,
    'linux.memoryPolicy.nodes: "x" is not a list of nodes 0 to 1023',
  );
});
