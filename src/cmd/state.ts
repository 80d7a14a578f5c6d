/** `runts state ID`: the runtime-spec state as JSON. @module */
import { loadContainer, ociState } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";
import { oneId } from "./start.ts";

/** Runs state. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const { rec } = loadContainer(g, oneId(argv, "state"));
  console.log(JSON.stringify(ociState(rec), null, 2));
  return Promise.resolve(0);
}
