/** `runts state ID`: the runtime-spec state as JSON. @module */
import { Container } from "../container/container.ts";
import type { GlobalOptions } from "./context.ts";
import { oneId } from "./args.ts";

/** Runs state. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const c = Container.load(g, oneId(argv, "state"));
  console.log(JSON.stringify(c.ociState(), null, 2));
  return Promise.resolve(0);
}
