import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { exactJson, parseDuration, parseEventsArgs } from "./events.ts";

Deno.test("parseDuration() reads Go durations in milliseconds", async (t) => {
  const cases: [string, number][] = [
    ["5s", 5000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["1.5s", 1500],
    ["2h", 7_200_000],
    ["250us", 0.25],
    ["250µs", 0.25],
    ["1000000ns", 1],
    ["0", 0],
  ];
  for (const [text, ms] of cases) {
    await t.step(`${text} -> ${ms}`, () => assertEquals(parseDuration(text), ms));
  }
  for (const bad of ["", "5", "5x", "s", "1s2"]) {
    await t.step(`${JSON.stringify(bad)} is refused`, () => {
      assertThrows(() => parseDuration(bad), Error, "invalid duration");
    });
  }
});

Deno.test("parseEventsArgs() defaults to a 5 s interval without --stats", () => {
  assertEquals(parseEventsArgs(["c1"]), { id: "c1", intervalMs: 5000, stats: false });
});

Deno.test("parseEventsArgs() flags", async (t) => {
  await t.step("--stats", () => {
    assertEquals(parseEventsArgs(["--stats", "c1"]), { id: "c1", intervalMs: 5000, stats: true });
    assertEquals(parseEventsArgs(["c1", "--stats"]).stats, true);
  });
  await t.step("--interval", () => {
    assertEquals(parseEventsArgs(["--interval", "1s", "c1"]).intervalMs, 1000);
    assertEquals(parseEventsArgs(["--interval=250ms", "c1"]).intervalMs, 250);
  });
});

Deno.test("parseEventsArgs() errors", async (t) => {
  const cases: [string[], string][] = [
    [[], "events: expected one container id, got 0"],
    [["a", "b"], "events: expected one container id, got 2"],
    [["--interval", "0s", "c1"], "events: duration interval must be greater than 0"],
    [["--interval", "5", "c1"], 'events: --interval: invalid duration "5"'],
    [["--bogus", "c1"], "bogus"],
  ];
  for (const [argv, msg] of cases) {
    await t.step(argv.join(" ") || "(none)", () => {
      assertThrows(() => parseEventsArgs(argv), Error, msg);
    });
  }
});

Deno.test("exactJson() writes integers above 2^53 in full, as a uint64 reader needs them", () => {
  assertEquals(
    exactJson({ limit: 9223372036854771712, usage: 4096, ratio: 0.5, name: "x", big: 2 ** 70 }),
    '{"limit":9223372036854771712,"usage":4096,"ratio":0.5,"name":"x","big":18446744073709551615}',
  );
  assertEquals(JSON.stringify({ limit: 9223372036854771712 }), '{"limit":9223372036854772000}');
});
