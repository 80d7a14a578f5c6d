/** `runts features`: the OCI features document. @module */
import { featuresDocument } from "../oci/features.ts";
import type { GlobalOptions } from "./context.ts";

/** Runs features. */
export function main(_g: GlobalOptions, _argv: string[]): Promise<number> {
  console.log(JSON.stringify(featuresDocument(), null, "    "));
  return Promise.resolve(0);
}
