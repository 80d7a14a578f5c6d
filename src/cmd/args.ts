/**
 * Argument helpers shared by commands, apart from any command's own module so that importing
 * one loads nothing else (`state` would otherwise load what `start` needs).
 * @module
 */
import { parseArgs } from "node:util";

/** The single positional container id of a command. */
export function oneId(argv: string[], cmd: string, options = {}): string {
  const { positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (positionals.length !== 1) {
    throw new Error(`${cmd}: expected one container id, got ${positionals.length}`);
  }
  return positionals[0]!;
}
