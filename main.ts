/**
 * runts: an OCI container runtime. This file parses the global flags, answers help and
 * --version, dispatches to one command through the table in src/cmd/defs.ts, and is the only
 * place that prints an error and exits. A command's module is imported only when it runs.
 * @module
 */
import { debugLog, mark, setDebug } from "./src/trace.ts";
import {
  checkRootOwner,
  defaultRoot,
  ExitError,
  type GlobalOptions,
  logError,
  setLog,
} from "./src/cmd/context.ts";
import { commandHelp, didYouMean, mainHelp, parseFlags, UsageError } from "./src/cmd/cli.ts";
import { commandDef, COMMANDS, GLOBAL_DEF, parseCommandArgs } from "./src/cmd/defs.ts";
import { commit, SPEC_VERSION, VERSION } from "./src/version.ts";
import { parsePlatformFlag } from "./src/kvm/platform.ts";

export { VERSION };

/** The global options before any flag is read (root "": defaultRoot() for the caller). */
function defaults(): GlobalOptions {
  return { root: "", logFormat: "text", debug: false, ignored: [] };
}

/** Splits global flags from the command and its arguments. */
export function parseGlobal(argv: string[]): { g: GlobalOptions; rest: string[] } {
  const p = parseFlags(GLOBAL_DEF, argv);
  const v = p.values;
  const g = defaults();
  if (v.root !== undefined) g.root = v.root as string;
  if (v.log !== undefined) g.log = v.log as string;
  const lf = v["log-format"] as string;
  if (lf !== "text" && lf !== "json") {
    throw new UsageError("", `--log-format: must be "text" or "json", not ${JSON.stringify(lf)}`);
  }
  g.logFormat = lf;
  g.debug = v.debug === true;
  if (v.platform !== undefined) g.platform = parsePlatformFlag(v.platform as string); // kvm
  if (v["systemd-cgroup"] === true) g.systemdCgroup = true;
  for (const name of ["criu", "rootless"]) {
    const x = v[name];
    if (x !== undefined && x !== false) g.ignored.push(`--${name}`);
  }
  if (v.version === true) g.version = true;
  if (p.help) g.help = true;
  return { g, rest: p.positionals };
}

/** The text of `runts --version`: runc's lines, then what runts runs on. */
export async function versionText(): Promise<string> {
  const lines = [
    `runts version ${VERSION}`,
    `commit: ${commit()}`,
    `spec: ${SPEC_VERSION}`,
    `deno: ${Deno.version.deno}`,
    `v8: ${Deno.version.v8}`,
    `typescript: ${Deno.version.typescript}`,
  ];
  try {
    const { libseccompVersionText } = await import("./ffi/libseccomp.ts");
    lines.push(`libseccomp: ${libseccompVersionText()}`);
  } catch {
    // no libseccomp: the line is left out, as runc's build without it
  }
  return lines.join("\n");
}

/** Help for `runts help [COMMAND]`; undefined when COMMAND is unknown. */
function helpFor(name: string | undefined): string | undefined {
  if (name === undefined) return mainHelp(VERSION, GLOBAL_DEF.flags, COMMANDS);
  const def = commandDef(name);
  return def === undefined || def.hidden ? undefined : commandHelp(def);
}

function unknownCommand(cmd: string): UsageError {
  const near = didYouMean(cmd, COMMANDS.filter((c) => !c.hidden).map((c) => c.name));
  const hint = near === undefined ? "" : ` (did you mean "${near}"?)`;
  return new UsageError("", `unknown command ${JSON.stringify(cmd)}${hint}`);
}

async function main(argv: string[]): Promise<number> {
  mark("main");
  let g = defaults();
  let cmd: string | undefined;
  try {
    const parsed = parseGlobal(argv);
    g = parsed.g;
    setDebug(g.debug);
    setLog(g);
    if (g.version) {
      console.log(await versionText());
      return 0;
    }
    const args = parsed.rest.slice(1);
    cmd = parsed.rest[0];
    if (g.help || cmd === undefined) {
      console.log(helpFor(undefined));
      return 0;
    }
    const def = commandDef(cmd);
    if (def === undefined) throw unknownCommand(cmd);
    // One parse, here, for --help and usage errors in one wording (the command gets the same).
    const pre = parseCommandArgs(cmd, args);
    if (pre.help) {
      console.log(commandHelp(def));
      return 0;
    }
    if (cmd === "help") {
      const text = helpFor(pre.positionals[0]);
      if (text === undefined) throw unknownCommand(pre.positionals[0]!);
      console.log(text);
      return 0;
    }
    if (!def.stateless) {
      if (g.root === "") g.root = defaultRoot();
      checkRootOwner(g.root);
    }
    debugLog(`command ${cmd}: ${JSON.stringify(args)}`);
    if (g.ignored.length) debugLog(`ignoring ${g.ignored.join(" ")}`);
    const runner = await def.load();
    mark(`${cmd}: loaded`);
    const status = (await runner(g, args)) ?? 0;
    mark(`${cmd}: done`);
    debugLog(`command ${cmd} exited with status ${status}`);
    return status;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`runts: ${msg}`);
    logError(g, msg);
    if (g.debug && e instanceof Error && e.stack) debugLog(e.stack);
    return e instanceof ExitError ? e.status : 1;
  }
}

// kvm (issue 17): in the one-file bundle or a compiled binary, a vCPU thread (a Worker,
// src/kvm/machine.ts) runs this module; it then serves the vCPU loop instead of the CLI.
if ("WorkerGlobalScope" in globalThis) await import("./src/kvm/vcpu_worker.ts");
else if (import.meta.main) Deno.exit(await main(Deno.args));
