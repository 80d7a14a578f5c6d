/**
 * Argument helpers shared by commands, apart from any command's own module so that importing
 * one loads nothing else (`state` would otherwise load what `start` needs).
 * @module
 */
import { parseCommandArgs } from "./defs.ts";

/** The single positional container id of a command. */
export function oneId(argv: string[], cmd: string): string {
  return parseCommandArgs(cmd, argv).positionals[0]!;
}
