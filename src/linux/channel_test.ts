import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { advance, type Message, type Phase, type Report } from "./channel.ts";

function run(steps: (Report["kind"] | Message)[]): Phase {
  return steps.reduce<Phase>((p, s) => advance(p, s), "spawned");
}

Deno.test("advance() follows an init with id maps, create hooks and a listener to execve", () => {
  assertEquals(
    run(["sync", "hooks", "hooksDone", "notify", "listenerTaken", "ready", "start", "eof"]),
    "done",
  );
});

Deno.test("advance() follows an exec'd process that goes straight on to execve", () => {
  assertEquals(run(["sync", "ready", "notify", "listenerTaken", "eof"]), "done");
  assertEquals(run(["ready", "eof"]), "done");
});

Deno.test("advance() ends the handshake on a failure or EOF in any phase", () => {
  for (const p of ["spawned", "hooks", "notify", "ready", "started"] as Phase[]) {
    assertEquals(advance(p, "failed"), "done");
    assertEquals(advance(p, "eof"), "done");
  }
});

Deno.test("advance() refuses a message out of turn", async (t) => {
  const cases: [Phase, Message | Report["kind"], string][] = [
    ["spawned", "start", '"start" is not expected spawned'],
    ["started", "start", '"start" is not expected started'],
    ["hooks", "ready", '"ready" is not expected hooks'],
    ["ready", "hooksDone", '"hooksDone" is not expected ready'],
    ["done", "sync", '"sync" is not expected done'],
  ];
  for (const [phase, what, msg] of cases) {
    await t.step(`${what} in ${phase}`, () => {
      assertThrows(() => advance(phase, what), Error, msg);
    });
  }
});
