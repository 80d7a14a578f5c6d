/**
 * `runts pause ID`: freezes every process of a running container (its cgroup's freezer).
 *
 * @module
 */
import { pauseContainer } from "../container/pause.ts";
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
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  await pauseContainer(g, parsePauseArgs(argv).id);
  return 0;
}
