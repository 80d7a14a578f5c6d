/**
 * `runts resume ID`: thaws a paused container.
 * @module
 */
import { resumeContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";
import { parseCommandArgs } from "./defs.ts";

/** Parsed arguments of resume. */
export interface ResumeArgs {
  /** The container id. */
  id: string;
}

/** Parses resume's arguments: one container id. */
export function parseResumeArgs(argv: string[]): ResumeArgs {
  return { id: parseCommandArgs("resume", argv).positionals[0]! };
}

/** Runs resume. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  resumeContainer(g, parseResumeArgs(argv).id);
  return Promise.resolve(0);
}
