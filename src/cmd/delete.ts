/** `runts delete [--force] ID`. @module */
import { parseCommandArgs } from "./defs.ts";
import { deleteContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";

/** Parses delete's arguments. */
export function parseDeleteArgs(argv: string[]): { id: string; force: boolean } {
  const { values, positionals } = parseCommandArgs("delete", argv);
  return { id: positionals[0]!, force: values.force === true };
}

/** Runs delete. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseDeleteArgs(argv);
  await deleteContainer(g, a.id, a.force);
  return 0;
}
