import { assertEquals, assertThrows } from "../tests/assert.ts";
import { DbusError, libsystemdAvailable, SdBus, splitSignature } from "./sdbus.ts";

Deno.test("splitSignature() splits complete types", async (t) => {
  const cases: [string, string[]][] = [
    ["", []],
    ["ss", ["s", "s"]],
    ["ssa(sv)a(sa(sv))", ["s", "s", "a(sv)", "a(sa(sv))"]],
    ["a{sv}t", ["a{sv}", "t"]],
    ["aay", ["aay"]],
  ];
  for (const [sig, want] of cases) {
    await t.step(JSON.stringify(sig), () => assertEquals(splitSignature(sig), want));
  }
});

Deno.test("splitSignature() refuses broken signatures", () => {
  assertThrows(() => splitSignature("a"), Error, "is incomplete");
  assertThrows(() => splitSignature("(ss"), Error, "is unbalanced");
  assertThrows(() => splitSignature("sz"), Error, 'unknown type "z"');
});

Deno.test({
  name: "SdBus.open() names the address and the errno when nothing listens",
  ignore: !libsystemdAvailable(),
  fn() {
    const path = `/tmp/runts-no-bus-${Deno.pid}`;
    const e = assertThrows(
      () => SdBus.open(`unix:path=${path}`),
      DbusError,
      `cannot connect to D-Bus at "unix:path=${path}": ENOENT (No such file or directory)`,
    );
    assertEquals((e as DbusError).code, "ENOENT");
  },
});
