import { assert, assertEquals, assertMatch } from "../tests/assert.ts";

const TRACE = new URL("./trace.ts", import.meta.url).href;

/** Runs `mark()` twice in a Deno process with RUNTS_TRACE=value; returns its stderr. */
async function markIn(value: string): Promise<{ stderr: string; pid: number }> {
  const code = `import { mark } from "${TRACE}"; mark("one"); mark("two thing"); ` +
    `console.log(Deno.pid);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    env: { RUNTS_TRACE: value },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return {
    stderr: new TextDecoder().decode(out.stderr),
    pid: Number(new TextDecoder().decode(out.stdout).trim()),
  };
}

Deno.test("trace: RUNTS_TRACE=1 prints marks to stderr", async () => {
  const { stderr } = await markIn("1");
  const lines = stderr.trim().split("\n");
  assertEquals(lines.length, 2);
  assertMatch(lines[0]!, /^runts: trace: +\d+\.\d ms one$/);
  assertMatch(lines[1]!, /^runts: trace: +\d+\.\d ms two thing$/);
});

Deno.test("trace: RUNTS_TRACE=/file appends wall clock, pid, ms and the mark", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "earlier line\n");
    const before = Date.now();
    const { stderr, pid } = await markIn(file);
    assertEquals(stderr, "");
    const lines = (await Deno.readTextFile(file)).trim().split("\n");
    assertEquals(lines.length, 3);
    assertEquals(lines[0], "earlier line");
    const [wall, p, since, ...what] = lines[2]!.split(" ");
    assertEquals(Number(p), pid);
    assertEquals(what.join(" "), "two thing");
    assert(Number(wall) >= before - 1 && Number(wall) <= Date.now() + 1, `wall clock ${wall}`);
    assertMatch(since!, /^\d+\.\d$/);
  } finally {
    await Deno.remove(file);
  }
});
