/** `runts kill [--all] ID [SIGNAL]` (default SIGTERM). @module */
import { parseArgs } from "node:util";
import { parseSignal } from "../linux/signals.ts";
import { killContainer } from "../container/kill.ts";
import type { GlobalOptions } from "./context.ts";

/** Parsed arguments of kill. */
export interface KillArgs {
  id: string;
  signal: number;
  all: boolean;
}

/** Parses kill's arguments. */
export function parseKillArgs(argv: string[]): KillArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { all: { type: "boolean", short: "a" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length < 1 || positionals.length > 2) {
    throw new Error(`kill: expected ID [SIGNAL], got ${positionals.length} arguments`);
  }
  return {
    id: positionals[0]!,
    signal: parseSignal(positionals[1] ?? "TERM"),
    all: values.all === true,
  };
}

/** Runs kill. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseKillArgs(argv);
  await killContainer(g, a.id, a);
  return 0;
}
