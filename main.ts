/**
 * runts: an OCI container runtime. This file parses the global flags, dispatches to one
 * command through a single table, and is the only place that prints an error and exits.
 * Commands are imported lazily so that `state` or `kill` load only what they use.
 * @module
 */
import { debugLog, mark, setDebug } from "./src/trace.ts";
import { checkRootOwner, defaultRoot, type GlobalOptions, logError } from "./src/cmd/context.ts";
import { parsePlatformFlag } from "./src/kvm/platform.ts";

/** The version line tools parse (first line of `runts --version`). */
export const VERSION = "0.1.0";

type Runner = (g: GlobalOptions, argv: string[]) => Promise<number | void>;

const COMMANDS: Record<string, () => Promise<Runner>> = {
  boot: async () => (await import("./src/cmd/boot.ts")).main,
  create: async () => (await import("./src/cmd/create.ts")).main,
  debug: async () => (await import("./src/cmd/debug.ts")).main,
  delete: async () => (await import("./src/cmd/delete.ts")).main,
  exec: async () => (await import("./src/cmd/exec.ts")).main,
  events: async () => (await import("./src/cmd/events.ts")).main,
  features: async () => (await import("./src/cmd/features.ts")).main,
  kill: async () => (await import("./src/cmd/kill.ts")).main,
  list: async () => (await import("./src/cmd/list.ts")).main,
  pause: async () => (await import("./src/cmd/pause.ts")).main,
  ps: async () => (await import("./src/cmd/ps.ts")).main,
  resume: async () => (await import("./src/cmd/resume.ts")).main,
  run: async () => (await import("./src/cmd/run.ts")).main,
  spec: async () => (await import("./src/cmd/spec.ts")).main,
  start: async () => (await import("./src/cmd/start.ts")).main,
  state: async () => (await import("./src/cmd/state.ts")).main,
  update: async () => (await import("./src/cmd/update.ts")).main,
  wait: async () => (await import("./src/cmd/wait.ts")).main,
};

/** Global flags that take a value. */
const VALUE_FLAGS = new Set(["root", "log", "log-format", "criu", "rootless", "platform"]);
/** Global flags runc accepts that runts does not need: accepted and ignored. */
const IGNORED = new Set(["criu", "rootless"]);

/** Commands that never read the state directory (need no --root or XDG_RUNTIME_DIR). */
const STATELESS = new Set(["spec", "features"]);

const USAGE = `usage: runts [global options] <command> [options] [args]

global options:
  --root DIR             state directory (default /run/runts; non-root: $XDG_RUNTIME_DIR/runts)
  --log FILE             also write errors to FILE
  --log-format text|json format of the --log file (default text)
  --debug                debug output on stderr
  --platform native|kvm  how sandboxes run containers (default native; kvm: /dev/kvm is
                         handed to the sandbox process; annotation dev.runts.platform too)
  --systemd-cgroup       cgroups through systemd (cgroupsPath "slice:prefix:name")
  --version, -v          print the version

commands: ${Object.keys(COMMANDS).filter((c) => c !== "boot").join(", ")}`;

/** Splits global flags from the command and its arguments. */
export function parseGlobal(argv: string[]): { g: GlobalOptions; rest: string[] } {
  const g: GlobalOptions = {
    root: "", // no --root: defaultRoot(), filled in for the commands that keep state
    logFormat: "text",
    debug: false,
    ignored: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-") break;
    if (a === "--version" || a === "-v") return { g: { ...g, version: true }, rest: [] };
    if (a === "--help" || a === "-h") return { g: { ...g, help: true }, rest: [] };
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown global flag ${JSON.stringify(a)}`);
    const name = m[1]!;
    let value = m[2];
    if (VALUE_FLAGS.has(name) && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new Error(`flag --${name} needs a value`);
    }
    if (name === "root") g.root = value!;
    else if (name === "log") g.log = value!;
    else if (name === "log-format") {
      if (value !== "text" && value !== "json") {
        throw new Error(`--log-format: must be "text" or "json", not ${JSON.stringify(value)}`);
      }
      g.logFormat = value;
    } else if (name === "platform") g.platform = parsePlatformFlag(value!); // kvm (issue 17)
    else if (name === "debug") g.debug = true;
    else if (name === "systemd-cgroup") g.systemdCgroup = true;
    else if (IGNORED.has(name)) g.ignored.push(a);
    else throw new Error(`unknown global flag ${JSON.stringify(a)}`);
  }
  return { g, rest: argv.slice(i) };
}

function cmdName(argv: string[]): string {
  try {
    return parseGlobal(argv).rest[0] ?? "runts";
  } catch {
    return "runts";
  }
}

async function main(argv: string[]): Promise<number> {
  mark("main");
  let g: GlobalOptions = { root: "/run/runts", logFormat: "text", debug: false, ignored: [] };
  try {
    const parsed = parseGlobal(argv);
    g = parsed.g;
    if (g.version) {
      console.log(`runts version ${VERSION}\nspec: 1.2.0`);
      return 0;
    }
    const [cmd, ...args] = parsed.rest;
    if (g.help || cmd === undefined || cmd === "help") {
      console.log(USAGE);
      return cmd === undefined && !g.help ? 1 : 0;
    }
    const load = COMMANDS[cmd];
    if (load === undefined) throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    if (!STATELESS.has(cmd)) {
      if (g.root === "") g.root = defaultRoot();
      checkRootOwner(g.root);
    }
    setDebug(g.debug);
    if (g.ignored.length) debugLog(`ignoring ${g.ignored.join(" ")}`);
    return (await (await load())(g, args)) ?? 0;
  } catch (e) {
    let msg = e instanceof Error ? e.message : String(e);
    // node:util parseArgs: keep its first sentence ("Unknown option '-x'").
    if ((e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      msg = `${cmdName(argv)}: ${msg.split(". ")[0]!.replace(/\.$/, "")}`;
    }
    console.error(`runts: ${msg}`);
    logError(g, msg);
    if (g.debug && e instanceof Error && e.stack) console.error(e.stack);
    return 1;
  }
}

// kvm (issue 17): in the one-file bundle or a compiled binary, a vCPU thread (a Worker,
// src/kvm/machine.ts) runs this module; it then serves the vCPU loop instead of the CLI.
if ("WorkerGlobalScope" in globalThis) await import("./src/kvm/vcpu_worker.ts");
else if (import.meta.main) Deno.exit(await main(Deno.args));
