/**
 * A container's cgroup manager. Apart from container.ts so that the commands that never touch
 * a cgroup (`state`, `start`) do not load the cgroup code.
 * @module
 */
import { type CgroupManager, cgroupManagerFor } from "../cgroup/manager.ts";
import type { Container } from "./container.ts";

/** The container's cgroup manager, undefined when its spec is unknown or names none. */
export function cgroupOf(c: Container): CgroupManager | undefined {
  const spec = c.spec;
  if (spec === undefined) return undefined;
  try {
    return cgroupManagerFor({ cgroupsPath: spec.linux?.cgroupsPath, id: c.id });
  } catch {
    return undefined;
  }
}

/** The cgroup of a container that must have one (pause, resume, update, stats). */
export function requireCgroup(c: Container): CgroupManager {
  const cg = cgroupOf(c);
  if (cg === undefined || cg.kind === "disabled") {
    throw new Error(`container ${JSON.stringify(c.id)} has no cgroup`);
  }
  return cg;
}
