import { assertEquals, assertStringIncludes } from "../assert.ts";
import {
  anonByKind,
  type CommandRun,
  marksOf,
  parseTrace,
  phasesMarkdown,
  summarize,
} from "../../scripts/bench_phases.ts";

const TRACE = [
  "1000.0 10 2.0 main",
  "1007.0 10 9.0 create: loaded",
  "1010.5 20 50000.0 boot: create request",
  "1030.0 10 32.0 create: done",
  "garbage line",
  "1050.0 30 1.0 main",
].join("\n");

Deno.test("parseTrace: wall clock, pid, ms since start, the mark (with spaces)", () => {
  const lines = parseTrace(TRACE);
  assertEquals(lines.length, 5);
  assertEquals(lines[2], { wall: 1010.5, pid: 20, since: 50000, what: "boot: create request" });
});

Deno.test("marksOf: own marks on their clock, others' placed by wall time while it ran", () => {
  const run: CommandRun = { pid: 10, spawned: 997, ended: 1035, lines: parseTrace(TRACE) };
  assertEquals(marksOf(run), [
    { what: "main", at: 2, other: false },
    { what: "create: loaded", at: 9, other: false },
    // origin of pid 10's clock: 1000 - 2 = 998; 1010.5 - 998
    { what: "boot: create request", at: 12.5, other: true },
    { what: "create: done", at: 32, other: false },
  ]);
});

Deno.test("summarize: medians of marks and wall, rare marks left out, ordered", () => {
  const mk = (d: number, extra: boolean): CommandRun => ({
    pid: 1,
    spawned: 0,
    ended: 40 + d,
    lines: [
      { wall: 10 + d, pid: 1, since: 5 + d, what: "b" },
      { wall: 5, pid: 1, since: 0, what: "a" },
      ...(extra ? [{ wall: 20, pid: 2, since: 1, what: "rare" }] : []),
    ],
  });
  const s = summarize("x", [mk(0, true), mk(2, false), mk(4, false)]);
  assertEquals(s.wall, 42);
  assertEquals(s.marks.map((m) => [m.what, m.at]), [["a", 0], ["b", 7]]);
  const md = phasesMarkdown([{ label: "op", commands: [s] }], 20);
  assertStringIncludes(md, "| x | b | 7.0 | 7.0 |");
  assertStringIncludes(md, "| 35.0 |"); // outside the marks: 42 - 7
  assertStringIncludes(md, "beyond it: 22.0");
});

Deno.test("anonByKind: anonymous memory summed per kind of mapping", () => {
  const smaps = [
    "55d0-55d1 r--p 00000000 fe:00 123   /opt/deno",
    "Anonymous:             0 kB",
    "55d1-55d2 rw-p 00001000 fe:00 123   /opt/deno",
    "Anonymous:           100 kB",
    "5600-5700 rw-p 00000000 00:00 0     [heap]",
    "Anonymous:            40 kB",
    "7f00-7f10 rw-p 00000000 00:00 0 ",
    "Anonymous:            16 kB",
    "7f10-7f20 rw-p 00000000 00:00 0",
    "Anonymous:             4 kB",
    "7ff0-7ff1 rw-p 00000000 00:00 0     [stack]",
    "Anonymous:             8 kB",
  ].join("\n");
  assertEquals(anonByKind(smaps), {
    "the deno binary's written pages": 100,
    "malloc heap ([heap])": 40,
    "anonymous mappings (V8 heap, thread arenas and stacks)": 20,
    "other ([stack], [vvar], …)": 8,
  });
});

Deno.test("summarize and phasesMarkdown: another process's marks kept apart from the command's", () => {
  // The command (pid 1, clock origin at wall 100) and a spare (pid 2) that starts before it.
  const run = (d: number): CommandRun => ({
    pid: 1,
    spawned: 95,
    ended: 150 + d,
    lines: [
      { wall: 98, pid: 2, since: 1, what: "main" },
      { wall: 103, pid: 1, since: 3, what: "main" },
      { wall: 110 + d, pid: 1, since: 10 + d, what: "start: done" },
      { wall: 130, pid: 2, since: 33, what: "boot: loaded" },
    ],
  });
  const s = summarize("start", [run(0), run(1), run(2)]);
  assertEquals(s.marks.map((m) => [m.what, m.at, m.other]), [
    ["main", -2, true],
    ["main", 3, false],
    ["start: done", 11, false],
    ["boot: loaded", 30, true],
  ]);
  const md = phasesMarkdown([{ label: "op", commands: [s] }], 20);
  assertStringIncludes(
    md,
    "| start | (other process) main (before the command's clock) | -2.0 | — |",
  );
  assertStringIncludes(md, "| start | main | 3.0 | 3.0 |");
  assertStringIncludes(md, "| start | (other process) boot: loaded | 30.0 | 19.0 |");
  // wall 56 less the command's own last mark (11), not the other process's (30)
  assertStringIncludes(md, "after its last mark | | 45.0 |");
});
