/** `runts spec [--bundle DIR] [--rootless]`: writes a default config.json. @module */
import { parseArgs } from "node:util";
import { defaultSpec } from "../oci/default_spec.ts";
import type { GlobalOptions } from "./context.ts";

/** Runs spec. */
export function main(_g: GlobalOptions, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { bundle: { type: "string", short: "b" }, rootless: { type: "boolean" } },
    strict: true,
  });
  const path = `${values.bundle ?? "."}/config.json`;
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
