/**
 * bin/runts: which entry it hands to Deno. The bundle (build/runts/main.js) only while none of
 * the sources its sources.sh lists is newer than it; main.ts otherwise. Run on a copy of the
 * wrapper in a fake repository whose "deno" prints its arguments.
 */
import { assertEquals, assertStringIncludes } from "../assert.ts";
import { RUNTS_V8_FLAGS, selfArgv } from "../../src/sandbox/self.ts";

const WRAPPER = new URL("../../bin/runts", import.meta.url).pathname;

async function fakeRepo(): Promise<string> {
  const repo = await Deno.makeTempDir({ prefix: "runts-wrapper-" });
  for (const d of ["bin", ".deno/bin", "build/runts", "src/linux"]) {
    await Deno.mkdir(`${repo}/${d}`, { recursive: true });
  }
  await Deno.copyFile(WRAPPER, `${repo}/bin/runts`);
  await Deno.writeTextFile(`${repo}/.deno/bin/deno`, '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
  for (const f of ["main.ts", "src/linux/a.ts", "src/b_test.ts", "build/runts/main.js"]) {
    await Deno.writeTextFile(`${repo}/${f}`, "");
  }
  await Deno.writeTextFile(
    `${repo}/build/runts/sources.sh`,
    "# the sources\nfresh main.ts src/linux/a.ts\n",
  );
  const old = new Date(Date.now() - 60_000);
  for (const f of ["main.ts", "src/linux/a.ts", "src/b_test.ts"]) {
    await Deno.utime(`${repo}/${f}`, old, old);
  }
  return repo;
}

async function entry(repo: string): Promise<string> {
  const out = await new Deno.Command(`${repo}/bin/runts`, {
    args: ["state", "x"],
    clearEnv: true,
    env: { DENO_DIR: "/nonexistent" },
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const args = new TextDecoder().decode(out.stdout).trim().split(" ");
  assertEquals(args.slice(-2), ["state", "x"]);
  return args.at(-3)!.slice(repo.length);
}

Deno.test("bin/runts runs the bundle while no source it lists is newer, main.ts otherwise", async () => {
  const repo = await fakeRepo();
  try {
    assertEquals(await entry(repo), "/build/runts/main.js");
    // A file that is not one of the bundle's sources changes nothing.
    await Deno.utime(`${repo}/src/b_test.ts`, new Date(), new Date());
    assertEquals(await entry(repo), "/build/runts/main.js");
    // A listed source edited after the bundle was made.
    const later = new Date(Date.now() + 5_000);
    await Deno.utime(`${repo}/src/linux/a.ts`, later, later);
    assertEquals(await entry(repo), "/main.ts");
    // Rebundled (the bundle newer again).
    const latest = new Date(Date.now() + 10_000);
    await Deno.utime(`${repo}/build/runts/main.js`, latest, latest);
    assertEquals(await entry(repo), "/build/runts/main.js");
    // A bundle without its source list is not trusted.
    await Deno.remove(`${repo}/build/runts/sources.sh`);
    assertEquals(await entry(repo), "/main.ts");
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});

Deno.test("bin/runts, the dist wrapper and selfArgv pass the same V8 flags (one code cache)", async () => {
  const flag = `--v8-flags=${RUNTS_V8_FLAGS.join(",")}`;
  for (const f of ["../../bin/runts", "../../scripts/dist/runts.sh"]) {
    const text = await Deno.readTextFile(new URL(f, import.meta.url));
    const exec = text.split("\n").find((l) => l.startsWith("exec "))!;
    assertStringIncludes(exec, ` ${flag} `);
  }
  const argv = selfArgv(["boot", "x"], ["--max-old-space-size=32"]);
  assertEquals(argv.filter((a) => a.startsWith("--v8-flags=")), [
    `${flag},--max-old-space-size=32`,
  ]);
  const repo = await fakeRepo();
  try {
    const out = await new Deno.Command(`${repo}/bin/runts`, { args: ["state"] }).output();
    assertStringIncludes(new TextDecoder().decode(out.stdout), ` ${flag} `);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});
