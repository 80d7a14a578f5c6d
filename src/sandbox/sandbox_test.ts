import { assertEquals } from "../../tests/assert.ts";
import { sandboxEnv } from "./sandbox.ts";

Deno.test("sandboxEnv() passes the environment on, with one malloc arena unless it says otherwise", () => {
  assertEquals(sandboxEnv({ PATH: "/bin", A: "b=c" }), [
    "MALLOC_ARENA_MAX=1",
    "PATH=/bin",
    "A=b=c",
  ]);
  assertEquals(sandboxEnv({ MALLOC_ARENA_MAX: "4" }), ["MALLOC_ARENA_MAX=4"]);
});
