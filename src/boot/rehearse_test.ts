import { assert } from "../../tests/assert.ts";
import { rehearseCreate } from "./rehearse.ts";

Deno.test("rehearseCreate() builds the default config's program and makes nothing", () => {
  const root = Deno.makeTempDirSync();
  try {
    const before = Deno.readTextFileSync("/proc/self/mountinfo");
    assert(rehearseCreate(root) > 1000, "a program of the default config was laid out");
    assert([...Deno.readDirSync(root)].length === 0, "nothing in the root");
    assert(Deno.readTextFileSync("/proc/self/mountinfo") === before, "no mount");
    const fds = [...Deno.readDirSync("/proc/self/fd")].length;
    rehearseCreate(root);
    assert([...Deno.readDirSync("/proc/self/fd")].length === fds, "no fd left open");
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
