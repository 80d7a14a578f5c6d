/**
 * `runts update [flags] ID`: changes a running container's cgroup limits, with runc's flags,
 * or a LinuxResources JSON document with `-r FILE` / `-r -` (stdin; what Docker and podman
 * use). Values left out, and zero values, leave the limit as it is (runc's semantics).
 *
 * @module
 */
import { updateContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";
import { commandDef, parseCommandArgs } from "./defs.ts";
import type { LinuxResources } from "../oci/spec.ts";
import { parseSpec } from "../oci/config.ts";

/** Parsed arguments of update. */
export interface UpdateArgs {
  /** The container id. */
  id: string;
  /** The resources the flags give ({} when `--resources` is used). */
  resources: LinuxResources;
  /** `--resources` file, "-" for stdin; its JSON replaces the flags. */
  resourcesFile: string | undefined;
  /** `--l3-cache-schema` (Intel RDT CAT). */
  l3CacheSchema: string | undefined;
  /** `--mem-bw-schema` (Intel RDT MBA). */
  memBwSchema: string | undefined;
  /** Accepted-but-ignored flags, as sentences to print. */
  warnings: string[];
}

/** A flag of update (its definition, with its kind of value, is in defs.ts). */
type Flag = string;

/** The kind of value a flag of update takes (`kind` in its definition). */
function kindOf(flag: Flag): string | undefined {
  return commandDef("update")!.flags.find((f) => f.name === flag)?.kind;
}

const MULTIPLIERS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * Parses a memory size as runc does (docker/go-units RAMInBytes): a number with an optional
 * binary unit, `64m`, `1g`, `1.5GiB`, `512 MB`, `100`; "-1" means unlimited.
 *
 * @throws {Error} for anything else.
 * @example
 * ```ts
 * parseSize("64m"); // 67108864
 * ```
 */
export function parseSize(text: string): number {
  if (text === "-1") return -1;
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isFinite(n)) throw new Error(`invalid size: ${JSON.stringify(text)}`);
  return Math.trunc(n * MULTIPLIERS[(m[2] ?? "").toLowerCase()]!);
}

function parseInteger(text: string, unsigned: boolean): number {
  const ok = unsigned ? /^\d+$/.test(text) : /^-?\d+$/.test(text);
  const n = Number(text);
  if (!ok || !Number.isSafeInteger(n)) {
    throw new Error(
      `invalid ${unsigned ? "unsigned integer" : "integer"}: ${JSON.stringify(text)}`,
    );
  }
  return n;
}

/**
 * Parses update's arguments. Flags take `--flag value`, `--flag=value` or the single-dash
 * forms (urfave/cli's), values may start with "-" (`--memory-swap -1`); `-r` is
 * `--resources`. `--cpu-shares` is accepted beside runc's `--cpu-share`.
 *
 * @throws {Error} `update: ...` for unknown flags, bad values, a missing id, or
 * `--resources` combined with limit flags.
 */
export function parseUpdateArgs(argv: string[]): UpdateArgs {
  const { values, positionals } = parseCommandArgs("update", argv);
  const given = new Map<Flag, string>();
  for (const [k, v] of Object.entries(values)) if (typeof v === "string") given.set(k, v);

  const resources: LinuxResources = {};
  const warnings: string[] = [];
  const value = (flag: Flag): number | string | undefined => {
    const text = given.get(flag);
    if (text === undefined || text === "") return undefined;
    try {
      switch (kindOf(flag)) {
        case "int":
          return parseInteger(text, false);
        case "uint":
          return parseInteger(text, true);
        case "size":
          return parseSize(text);
        default:
          return text;
      }
    } catch (e) {
      throw new Error(`update: --${flag}: ${(e as Error).message}`);
    }
  };
  const num = (flag: Flag) => value(flag) as number | undefined;
  const str = (flag: Flag) => value(flag) as string | undefined;

  const resourcesFile = given.get("resources");
  const limitFlags = [...given.keys()].filter((f) =>
    f !== "resources" && f !== "l3-cache-schema" && f !== "mem-bw-schema"
  );
  if (resourcesFile !== undefined && limitFlags.length > 0) {
    throw new Error(
      `update: --resources replaces the other flags; drop --${limitFlags.join(", --")}`,
    );
  }

  const memory: NonNullable<LinuxResources["memory"]> = {};
  const setMem = (key: "limit" | "reservation" | "swap", flag: Flag) => {
    const v = num(flag);
    if (v !== undefined) memory[key] = v;
  };
  setMem("limit", "memory");
  setMem("reservation", "memory-reservation");
  setMem("swap", "memory-swap");
  if (Object.keys(memory).length > 0) resources.memory = memory;
  for (const f of ["kernel-memory", "kernel-memory-tcp"] as const) {
    if (given.has(f)) warnings.push(`--${f} is ignored: kernel memory limits are obsolete`);
  }

  const cpu: NonNullable<LinuxResources["cpu"]> = {};
  const shares = num("cpu-shares") ?? num("cpu-share");
  if (shares !== undefined) cpu.shares = shares;
  const cpuNums = [
    ["quota", "cpu-quota"],
    ["period", "cpu-period"],
    ["burst", "cpu-burst"],
    ["realtimePeriod", "cpu-rt-period"],
    ["realtimeRuntime", "cpu-rt-runtime"],
    ["idle", "cpu-idle"],
  ] as const;
  for (const [key, flag] of cpuNums) {
    const v = num(flag);
    if (v !== undefined) cpu[key] = v;
  }
  const cpus = str("cpuset-cpus");
  if (cpus !== undefined) cpu.cpus = cpus;
  const mems = str("cpuset-mems");
  if (mems !== undefined) cpu.mems = mems;
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;

  const pids = num("pids-limit");
  if (pids !== undefined) resources.pids = { limit: pids };
  const weight = num("blkio-weight");
  if (weight !== undefined && weight !== 0) resources.blockIO = { weight };

  return {
    id: positionals[0]!,
    resources,
    resourcesFile,
    l3CacheSchema: str("l3-cache-schema"),
    memBwSchema: str("mem-bw-schema"),
    warnings,
  };
}

/**
 * Parses and validates a LinuxResources JSON document (`update -r`), with the config.json
 * checker: errors name the source and the field (`stdin: linux.resources.memory.limit: must be
 * an integer, not "x"`).
 */
export function parseResourcesJSON(text: string, source: string): LinuxResources {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new Error(`${source}: must be a JSON object (LinuxResources)`);
  }
  const wrapped = { ociVersion: "1.2.0", root: { path: "rootfs" }, linux: { resources: doc } };
  parseSpec(JSON.stringify(wrapped), source);
  return doc as LinuxResources;
}

/** Where {@linkcode readUpdateResources} reads from (tests pass fakes). */
export interface UpdateInput {
  /** Reads a file. */
  readFile(path: string): string;
  /** Reads all of stdin. */
  readStdin(): string;
}

const hostInput: UpdateInput = {
  readFile: (path) => Deno.readTextFileSync(path),
  readStdin() {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = Deno.stdin.readSync(buf);
      if (n === null || n === 0) break;
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    return new TextDecoder().decode(all);
  },
};

/** The resources to apply: the `--resources` document (file or stdin), else the flags'. */
export function readUpdateResources(a: UpdateArgs, input: UpdateInput = hostInput): LinuxResources {
  if (a.resourcesFile === undefined) return a.resources;
  if (a.resourcesFile === "-") return parseResourcesJSON(input.readStdin(), "stdin");
  let text: string;
  try {
    text = input.readFile(a.resourcesFile);
  } catch (e) {
    throw new Error(
      `update: --resources ${JSON.stringify(a.resourcesFile)}: ${(e as Error).message}`,
    );
  }
  return parseResourcesJSON(text, a.resourcesFile);
}

/** Runs update. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseUpdateArgs(argv);
  for (const w of a.warnings) console.error(`runts: warning: ${w}`);
  if (a.l3CacheSchema !== undefined || a.memBwSchema !== undefined) {
    throw new Error("update: Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported");
  }
  updateContainer(g, a.id, readUpdateResources(a));
  return Promise.resolve(0);
}
