/**
 * `runts pause ID`: freezes every process of a running container (its cgroup's freezer).
 *
 * @module
 */
import { pauseContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";
import { parseCommandArgs } from "./defs.ts";

/** Parsed arguments of pause. */
export interface PauseArgs {
  /** The container id. */
  id: string;
}

/** Parses pause's arguments: one container id. */
export function parsePauseArgs(argv: string[]): PauseArgs {
  return { id: parseCommandArgs("pause", argv).positionals[0]! };
}

/** Runs pause. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  pauseContainer(g, parsePauseArgs(argv).id);
  return Promise.resolve(0);
}
