import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../tests/assert.ts";
import { commandHelp, didYouMean, editDistance, parseFlags, UsageError } from "./cli.ts";
import { COMMANDS, GLOBAL_DEF, parseCommandArgs } from "./defs.ts";
import { parseExecArgs } from "./exec.ts";
import { parsePsArgs } from "./ps.ts";
import { parseKillArgs } from "./kill.ts";

Deno.test("parseFlags reads --x v, --x=v, -x v, -xV, single-dash long flags and dashed values", () => {
  const p = parseCommandArgs("update", ["--memory-swap", "-1", "-r=-", "-memory", "1m", "c1"]);
  assertEquals(p.positionals, ["c1"]);
  assertEquals([p.values["memory-swap"], p.values.resources, p.values.memory], ["-1", "-", "1m"]);
  const c = parseCommandArgs("create", ["-b/tmp/b", "--pid-file=/p", "id"]);
  assertEquals([c.values.bundle, c.values["pid-file"], c.positionals], ["/tmp/b", "/p", ["id"]]);
  assertEquals(parseCommandArgs("create", ["id"]).values.bundle, ".", "the default is filled in");
});

Deno.test("exec and ps stop at the container id: what follows is the command or ps's options", () => {
  const e = parseExecArgs(["-e", "A=1", "--env=B=2", "-t", "c1", "sh", "-c", "--help"]);
  assertEquals([e.id, e.command, e.env, e.tty], [
    "c1",
    ["sh", "-c", "--help"],
    ["A=1", "B=2"],
    true,
  ]);
  assertEquals(parsePsArgs(["c1", "-e", "-x"]), {
    id: "c1",
    format: "table",
    psOptions: ["-e", "-x"],
  });
  assertEquals(parseKillArgs(["c1", "0"]).signal, 0, "signal 0 is a liveness check");
  assertEquals(parseKillArgs(["--all", "c1", "0"]).all, true);
});

Deno.test("usage errors: one wording naming the flag and the command, with a near miss", () => {
  const e = assertThrows(() => parseCommandArgs("run", ["--bundel", "b", "x"]), UsageError);
  assertEquals(
    e.message,
    `run: unknown flag "--bundel" (did you mean "--bundle"?); see 'runts run --help'`,
  );
  assertEquals(
    assertThrows(() => parseCommandArgs("kill", ["--zzz", "x"]), UsageError).message,
    `kill: unknown flag "--zzz"; see 'runts kill --help'`,
  );
  assertEquals(
    assertThrows(() => parseCommandArgs("start", []), UsageError).message,
    "start: expected one container id, got 0; see 'runts start --help'",
  );
  assertEquals(
    assertThrows(() => parseCommandArgs("create", ["--bundle"]), UsageError).message,
    `create: flag "--bundle" needs a value; see 'runts create --help'`,
  );
  assertEquals(
    assertThrows(() => parseFlags(GLOBAL_DEF, ["--rot", "x"]), UsageError).message,
    `unknown global flag "--rot" (did you mean "--root"?); see 'runts --help'`,
  );
});

Deno.test("did-you-mean: transpositions, typos and prefixes; nothing for far words", () => {
  assertEquals(editDistance("strat", "start"), 1);
  const names = COMMANDS.map((c) => c.name);
  assertEquals(didYouMean("strat", names), "start");
  assertEquals(didYouMean("delte", names), "delete");
  assertEquals(didYouMean("exe", names), "exec");
  assertEquals(didYouMean("frobnicate", names), undefined);
});

Deno.test("--help and -h are answered by every command, even without its arguments", () => {
  for (const c of COMMANDS) {
    for (const h of ["--help", "-h"]) assert(parseFlags(c, [h]).help, `${c.name} ${h}`);
    const text = commandHelp(c);
    assertStringIncludes(text, `runts ${c.name} - ${c.summary}`);
    for (const f of c.flags.filter((f) => !f.hidden)) {
      assertStringIncludes(text, `--${f.name}`, `${c.name} --${f.name}`);
      assertStringIncludes(text, f.help, `${c.name} --${f.name}`);
      if (typeof f.default === "string" && f.default !== "") {
        assertStringIncludes(text, `(default: ${f.default})`, `${c.name} --${f.name}`);
      }
    }
    if (!c.hidden) assert(c.examples.length > 0, `${c.name} has an example`);
    for (const e of c.examples) assertStringIncludes(text, e);
  }
  assert(parseFlags(COMMANDS.find((c) => c.name === "exec")!, ["c1", "ls", "-h"]).help === false);
});

Deno.test("definitions: unique names and short flags per command", () => {
  assertEquals(new Set(COMMANDS.map((c) => c.name)).size, COMMANDS.length);
  for (const c of [...COMMANDS, GLOBAL_DEF]) {
    const names = c.flags.flatMap((f) => [f.name, ...(f.short ? [f.short] : [])]);
    assertEquals(new Set(names).size, names.length, `${c.name || "global"}: ${names}`);
    assert(!names.includes("help") && !names.includes("h"), "help is every command's own");
  }
});
