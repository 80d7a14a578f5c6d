/** `runts delete [--force] ID`. @module */
import { parseArgs } from "node:util";
import { deleteContainer } from "../container/delete.ts";
import type { GlobalOptions } from "./context.ts";

/** Parses delete's arguments. */
export function parseDeleteArgs(argv: string[]): { id: string; force: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { force: { type: "boolean", short: "f" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) {
    throw new Error(`delete: expected one container id, got ${positionals.length}`);
  }
  return { id: positionals[0]!, force: values.force === true };
}

/** Runs delete. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseDeleteArgs(argv);
  await deleteContainer(g, a.id, a.force);
  return 0;
}
