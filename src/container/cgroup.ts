/**
 * A container's cgroup manager. Apart from container.ts so that the commands that never touch
 * a cgroup (`state`, `start`) do not load the cgroup code.
 * @module
 */
import {
  type CgroupManager,
  cgroupManagerFor,
  isSystemdCgroupsPath,
  loadCgroupDrivers,
  rootlessCaller,
} from "../cgroup/manager.ts";
import type { Spec } from "../oci/spec.ts";
import type { Container } from "./container.ts";

/** The cgroup manager of a container's spec (undefined when unknown or not possible). */
export async function cgroupOf(
  spec: Spec | undefined,
  id: string,
): Promise<CgroupManager | undefined> {
  if (spec === undefined) return undefined;
  const cgroupsPath = spec.linux?.cgroupsPath;
  // A container made with --systemd-cgroup has a slice:prefix:name path in its stored spec.
  const systemd = isSystemdCgroupsPath(cgroupsPath);
  await loadCgroupDrivers({ systemd });
  try {
    return cgroupManagerFor({
      cgroupsPath,
      id,
      systemd,
      ...(spec.linux?.resources ? { resources: spec.linux.resources } : {}),
      rootless: rootlessCaller(),
    });
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
