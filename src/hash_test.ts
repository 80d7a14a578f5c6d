import { assertEquals } from "../tests/assert.ts";
import { fnv1a32 } from "./hash.ts";

Deno.test("fnv1a32() is FNV-1a's 32-bit hash, 8 hex digits", () => {
  // the published FNV-1a test vectors
  assertEquals(fnv1a32(""), "811c9dc5");
  assertEquals(fnv1a32("a"), "e40c292c");
  assertEquals(fnv1a32("foobar"), "bf9cf968");
});
