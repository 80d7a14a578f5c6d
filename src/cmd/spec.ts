/** `runts spec [--bundle DIR] [--rootless]`: writes a default config.json. @module */
import { parseCommandArgs } from "./defs.ts";
import { defaultSpec } from "../oci/default_spec.ts";
import type { GlobalOptions } from "./context.ts";

/** Runs spec. */
export function main(_g: GlobalOptions, argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("spec", argv);
  const path = `${values.bundle as string}/config.json`;
  try {
    Deno.lstatSync(path);
    throw new Error(`file ${JSON.stringify(path)} already exists`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const spec = defaultSpec({ rootless: values.rootless === true });
  Deno.writeTextFileSync(path, JSON.stringify(spec, null, "\t") + "\n");
  return Promise.resolve(0);
}
