/**
 * `runts events [--interval 5s] [--stats] ID`: runc's events: with `--stats`, one
 * `{"type":"stats","id":...,"data":{...}}` line and exit; otherwise a stats line every interval
 * plus `oom` events.
 * @module
 */
import { containerStats } from "../container/update.ts";
import type { GlobalOptions } from "./context.ts";
import { parseCommandArgs } from "./defs.ts";

/** Parsed arguments of events. */
export interface EventsArgs {
  /** The container id. */
  id: string;
  /** Time between stats lines, in milliseconds (default 5000). */
  intervalMs: number;
  /** Print the stats once and exit. */
  stats: boolean;
}

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3, // U+00B5 micro sign
  "μs": 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration (`5s`, `1m30s`, `1.5h`, `300ms`) into milliseconds.
 *
 * @throws {Error} `invalid duration "5"` (a unit is required except for "0")
 */
export function parseDuration(text: string): number {
  const bad = () => new Error(`invalid duration ${JSON.stringify(text)}`);
  let s = text;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw bad();
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s !== "") {
    const m = re.exec(s);
    if (!m) throw bad();
    total += Number(m[1]) * UNITS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/** Parses events' arguments (`--interval` takes a Go duration, as runc's flag). */
export function parseEventsArgs(argv: string[]): EventsArgs {
  const { values, positionals } = parseCommandArgs("events", argv);
  let intervalMs: number;
  try {
    intervalMs = parseDuration(values.interval as string);
  } catch (e) {
    throw new Error(`events: --interval: ${(e as Error).message}`);
  }
  if (!(intervalMs > 0)) throw new Error("events: duration interval must be greater than 0");
  return { id: positionals[0]!, intervalMs, stats: values.stats === true };
}

/**
 * JSON with every integer written out in full: JSON.stringify writes a double above 2^53 in
 * its shortest form (cgroup v1's "no limit", 2^63 - 4096, becomes 9223372036854772000), which a
 * reader into a uint64 (containerd, Docker) takes for another number. Counters read past 2^64
 * are written as the largest uint64.
 */
export function exactJson(v: unknown): string {
  // JSON.rawJSON (V8 has it; TypeScript's lib does not list it yet)
  const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  return JSON.stringify(v, (_k, x) => {
    if (typeof x !== "number" || !Number.isInteger(x) || Math.abs(x) < 2 ** 53) return x;
    const n = BigInt(x);
    const max = (1n << 64n) - 1n;
    return rawJSON(String(n > max ? max : n));
  });
}

/** Runs events: one stats line with --stats, else stats every interval and oom events. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseEventsArgs(argv);
  const line = (type: string, data: unknown) =>
    console.log(exactJson({ type, id: a.id, ...(data === undefined ? {} : { data }) }));
  let { stats, oomKills, status } = await containerStats(g, a.id);
  if (a.stats) {
    line("stats", stats);
    return 0;
  }
  for (;;) {
    if (status === "stopped") return 0;
    line("stats", stats);
    await new Promise((r) => setTimeout(r, a.intervalMs));
    let now;
    try {
      now = await containerStats(g, a.id);
    } catch {
      return 0; // deleted meanwhile
    }
    if (now.oomKills > oomKills) line("oom", undefined);
    ({ stats, oomKills, status } = now);
  }
}
