/**
 * `runts pause ID`: freezes every process of a running container (its cgroup's freezer).
 *
 * @module
 */
import { pauseContainer } from "../container/pause.ts";
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
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  await pauseContainer(g, parsePauseArgs(argv).id);
  return 0;
}
