/**
 * process.capabilities checked against the one capability list and the running kernel: an
 * unknown name is a spec error; a capability the kernel lacks (above cap_last_cap) is skipped
 * with a warning, as runc does.
 * @module
 */
import type { Spec } from "../oci/spec.ts";
import { CAPS } from "./consts.ts";

const SETS = ["bounding", "effective", "permitted", "inheritable", "ambient"] as const;

/**
 * Throws naming every unknown capability; returns warnings for those the kernel lacks
 * (`lastCap`: /proc/sys/kernel/cap_last_cap).
 */
export function checkCapabilities(spec: Spec, lastCap: number): string[] {
  const caps = spec.process?.capabilities;
  if (caps === undefined) return [];
  const unknown = new Set<string>();
  const missing = new Set<string>();
  for (const set of SETS) {
    for (const name of caps[set] ?? []) {
      const i = CAPS.indexOf(name);
      if (i < 0) unknown.add(name);
      else if (i > lastCap) missing.add(name);
    }
  }
  if (unknown.size > 0) {
    const names = [...unknown].map((n) => JSON.stringify(n)).join(", ");
    throw new Error(
      `process.capabilities: unknown capabilit${unknown.size > 1 ? "ies" : "y"} ${names}`,
    );
  }
  return missing.size === 0 ? [] : [
    `ignoring capabilities this kernel does not have: ${[...missing].join(", ")}`,
  ];
}

/** The highest capability number of the running kernel. */
export function kernelLastCap(): number {
  if (lastCap === undefined) {
    try {
      lastCap = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
    } catch {
      lastCap = CAPS.length - 1;
    }
  }
  return lastCap;
}

/** The kernel's last capability, read once (it cannot change while this process runs). */
let lastCap: number | undefined;
