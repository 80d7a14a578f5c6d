import { assert, assertEquals } from "../../tests/assert.ts";
import { spareEnvRelevant } from "./spare.ts";

Deno.test("spareEnvRelevant: what a sandbox process reads decides, call-to-call noise does not", () => {
  for (
    const k of ["RUNTS_TRACE", "DENO_DIR", "LD_LIBRARY_PATH", "XDG_RUNTIME_DIR", "PATH", "USER"]
  ) {
    assert(spareEnvRelevant(k), k);
  }
  const noise = [
    "PWD",
    "OLDPWD",
    "_",
    "SHLVL",
    "HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET",
    "TERM",
    "RUNTS_SPARE", // the switch
  ];
  assertEquals(noise.filter(spareEnvRelevant), []);
});
