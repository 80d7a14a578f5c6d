/** `runts start ID`: releases a created container's process. @module */
import { oneId } from "./args.ts";
import { startContainer } from "../container/start.ts";
import type { GlobalOptions } from "./context.ts";

/** Parses start's arguments: one container id. */
export function parseStartArgs(argv: string[]): { id: string } {
  return { id: oneId(argv, "start") };
}

/** Runs start. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  await startContainer(g, parseStartArgs(argv).id);
  return 0;
}
