/**
 * `runts resume ID`: thaws a paused container.
 * @module
 */
import { resumeContainer } from "../container/pause.ts";
import type { GlobalOptions } from "./context.ts";
import { parseArgs } from "node:util";

/** Parsed arguments of resume. */
export interface ResumeArgs {
  /** The container id. */
  id: string;
}

/** Parses resume's arguments: one container id. */
export function parseResumeArgs(argv: string[]): ResumeArgs {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true });
  if (positionals.length !== 1) {
    throw new Error(`resume: expected one container id, got ${positionals.length}`);
  }
  return { id: positionals[0]! };
}

/** Runs resume. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  await resumeContainer(g, parseResumeArgs(argv).id);
  return 0;
}
