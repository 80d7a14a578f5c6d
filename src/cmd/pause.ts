/**
 * `runts pause ID`: freezes every process of a running container (its cgroup's freezer).
 * Only the argument parsing lives here so far.
 * @module
 */
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
