/**
 * `deno task build`: compiles runts into one executable, dist/runts.
 *
 * `deno compile` needs the `denort` base binary of the same Deno version. It downloads it
 * unless `DENORT_BIN` names one; the npm packages of Deno ship only the full `deno` binary, so
 * where the download is blocked DENORT_BIN is the only way. The environment (and so
 * DENORT_BIN) is passed through to `deno compile` unchanged.
 * @module
 */
import { RUNTS_V8_FLAGS } from "../src/sandbox/self.ts";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const output = "dist/runts";
const denort = Deno.env.get("DENORT_BIN");

if (denort !== undefined) {
  try {
    if (!Deno.statSync(denort).isFile) throw new Error("not a file");
  } catch (e) {
    console.error(`build: DENORT_BIN=${denort}: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
  console.error(`build: using DENORT_BIN=${denort} as the base binary`);
}

const cmd = new Deno.Command(Deno.execPath(), {
  // (the V8 flags every runts process runs with: src/sandbox/self.ts says why)
  args: [
    "compile",
    "-A",
    "--no-config",
    `--v8-flags=${RUNTS_V8_FLAGS.join(",")}`,
    "--output",
    output,
    "main.ts",
  ],
  cwd: repo,
  env: { NO_COLOR: "1" },
  stdout: "inherit",
  stderr: "piped",
});
const { code, stderr } = await cmd.output();
const err = new TextDecoder().decode(stderr);

if (code === 0) {
  await Deno.stderr.write(stderr);
  // A full `deno` binary given as DENORT_BIN is accepted by `deno compile` but ignores the
  // embedded program: the result then answers --version as Deno itself.
  const v = await new Deno.Command(`${repo}/${output}`, { args: ["--version"], stderr: "null" })
    .output();
  const first = new TextDecoder().decode(v.stdout).split("\n")[0] ?? "";
  if (!first.startsWith("runts")) {
    console.error(
      `build: ${output} prints ${JSON.stringify(first)} for --version, not runts: ` +
        "DENORT_BIN must be a denort binary, not a full deno binary",
    );
    Deno.exit(1);
  }
  console.error(`build: wrote ${output} (${first})`);
  Deno.exit(0);
}

// Without DENORT_BIN, a failure to fetch the base binary is the expected failure here: say so
// in one line instead of Deno's backtrace.
if (denort === undefined && /base binary|denort|dl\.deno\.land/i.test(err)) {
  console.error(
    "build: deno compile needs the denort base binary; download failed here — " +
      `set DENORT_BIN to a denort ${Deno.version.deno} binary`,
  );
  Deno.exit(1);
}
await Deno.stderr.write(stderr);
Deno.exit(code);
