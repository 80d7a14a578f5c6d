/**
 * A container's cgroup manager. Apart from container.ts so that the commands that never touch
 * a cgroup (`state`, `start`) do not load the cgroup code.
 * @module
 */
import {
  type CgroupManager,
  cgroupManagerOfSpec,
  isSystemdCgroupsPath,
  loadCgroupDrivers,
} from "../cgroup/manager.ts";
import type { Spec } from "../oci/spec.ts";
import type { Container } from "./container.ts";

/** The cgroup manager of a container's spec (undefined when unknown or not possible). */
export async function cgroupOf(
  spec: Spec | undefined,
  id: string,
): Promise<CgroupManager | undefined> {
  if (spec === undefined) return undefined;
  // A container made with --systemd-cgroup has a slice:prefix:name path in its stored spec.
  const systemd = isSystemdCgroupsPath(spec.linux?.cgroupsPath);
  await loadCgroupDrivers({ systemd });
  try {
    return cgroupManagerOfSpec(spec, id, systemd);
  } catch {
    return undefined;
  }
}

/** The container's cgroup manager, undefined when its spec is unknown or names none. */
export function containerCgroup(c: Container): Promise<CgroupManager | undefined> {
  return cgroupOf(c.spec, c.id);
}

/** The cgroup of a container that must have one (pause, resume, update, stats). */
export async function requireCgroup(c: Container): Promise<CgroupManager> {
  const cg = await containerCgroup(c);
  if (cg === undefined || cg.kind === "disabled") {
    throw new Error(`container ${JSON.stringify(c.id)} has no cgroup`);
  }
  return cg;
}
