/** `runts kill [--all] ID [SIGNAL]` (default SIGTERM). @module */
import { parseCommandArgs } from "./defs.ts";
import { parseSignal } from "../linux/signals.ts";
import { killContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";

/** Parsed arguments of kill. */
export interface KillArgs {
  id: string;
  signal: number;
  all: boolean;
}

/** Parses kill's arguments. */
export function parseKillArgs(argv: string[]): KillArgs {
  const { values, positionals } = parseCommandArgs("kill", argv);
  return {
    id: positionals[0]!,
    // 0 checks that the container is alive (runc takes it too).
    signal: positionals[1] === "0" ? 0 : parseSignal(positionals[1] ?? "TERM"),
    all: values.all === true,
  };
}

/** Runs kill. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseKillArgs(argv);
  killContainer(g, a.id, a.signal, a.all);
  return Promise.resolve(0);
}
