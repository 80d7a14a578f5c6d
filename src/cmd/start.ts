/** `runts start ID`: releases a created container's process. @module */
import { parseArgs } from "node:util";
import { startContainer } from "../container/start.ts";
import type { GlobalOptions } from "./context.ts";

/** Parses start's arguments: one container id. */
export function parseStartArgs(argv: string[]): { id: string } {
  return { id: oneId(argv, "start") };
}

/** The single positional container id of a command. */
export function oneId(argv: string[], cmd: string, options = {}): string {
  const { positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (positionals.length !== 1) {
    throw new Error(`${cmd}: expected one container id, got ${positionals.length}`);
  }
  return positionals[0]!;
}

/** Runs start. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  await startContainer(g, parseStartArgs(argv).id);
  return 0;
}
