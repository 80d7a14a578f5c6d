/** `runts start ID`: releases a created container's process. @module */
import { startContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";
import { parseCommandArgs } from "./defs.ts";

/** Parses start's arguments: one container id. */
export function parseStartArgs(argv: string[]): { id: string } {
  return { id: oneId(argv, "start") };
}

/** The single positional container id of a command. */
export function oneId(argv: string[], cmd: string): string {
  return parseCommandArgs(cmd, argv).positionals[0]!;
}

/** Runs start. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  await startContainer(g, parseStartArgs(argv).id);
  return 0;
}
