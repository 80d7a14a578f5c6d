/**
 * `runts pause ID`: freezes every process of a running container (its cgroup's freezer).
 *
 * @module
 */
import { pauseContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";
import { parseArgs } from "node:util";

/** Parsed arguments of pause. */
export interface PauseArgs {
  /** The container id. */
  id: string;
}

/** Parses pause's arguments: one container id. */
export function parsePauseArgs(argv: string[]): PauseArgs {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true });
  if (positionals.length !== 1) {
    throw new Error(`pause: expected one container id, got ${positionals.length}`);
  }
  return { id: positionals[0]! };
}

/** Runs pause. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  pauseContainer(g, parsePauseArgs(argv).id);
  return Promise.resolve(0);
}
