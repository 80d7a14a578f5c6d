/** `runts features`: the OCI features document, with the platforms this host offers. @module */
import { featuresDocument } from "../oci/features.ts";
import { kvmPlatformInfo } from "../kvm/device.ts";
import { mountOptionNames } from "../linux/mount_options.ts";
import type { GlobalOptions } from "./context.ts";

/** Runs features. */
export function main(_g: GlobalOptions, _argv: string[]): Promise<number> {
  const doc = featuresDocument({ mountOptions: mountOptionNames() });
  doc.platforms = { native: { available: true }, kvm: kvmPlatformInfo() };
  console.log(JSON.stringify(doc, null, "    "));
  return Promise.resolve(0);
}
