/**
 * cgroups for a caller without root, decided as runc decides them rootless:
 *
 * - the container's cgroup2 directory (cgroupsPath resolved as for root; relative paths hang off
 *   the caller's own cgroup) lies in a subtree delegated to the caller (its nearest existing
 *   directory is owned by the caller): the container gets its cgroup there and its limits are
 *   applied there (device rules excepted: a user namespace cannot create device nodes, and
 *   loading a device program needs privilege);
 * - otherwise, when the spec asks for no limits: no cgroup of its own (a --debug line says why);
 * - otherwise: an error naming the limits and the directory that is not writable.
 *
 * v1 hierarchies are never delegated to a user here: a rootless container never gets v1
 * cgroups.
 * @module
 */
import { dirname } from "../path.ts";
import type { LinuxResources } from "../oci/spec.ts";
import { CgroupError, type CgroupFs, type CgroupManager } from "./_common.ts";
import { DisabledManager } from "./disabled.ts";
import { V2Manager, type V2ManagerOptions } from "./v2.ts";
import { inUserNamespace } from "../../ffi/process.ts";

/**
 * Whether the rootless rules apply to the caller (runc's shouldUseRootlessCgroupManager): it is
 * not root, or it is root of a user namespace (what it may do in the host's cgroups is unknown,
 * and the rootless rules only differ where permission is missing).
 */
export function rootlessCaller(uid: number = Deno.uid() ?? 0, userNs?: boolean): boolean {
  return uid !== 0 || (userNs ?? inUserNamespace());
}

/** The limits of linux.resources that a rootless container asks for (device rules excluded). */
export function requestedLimits(res: LinuxResources | undefined): string[] {
  if (res === undefined) return [];
  return Object.entries(res).filter(([k, v]) => {
    if (k === "devices" || v === undefined || v === null) return false;
    if (Array.isArray(v)) return v.length > 0;
    if (typeof v === "object") return Object.values(v).some((x) => x !== undefined && x !== null);
    return true;
  }).map(([k]) => k);
}

/**
 * A cgroup v2 manager that leaves device rules alone (rootless: no device program; apply()
 * goes through update()).
 */
export class RootlessV2Manager extends V2Manager {
  /** Writes the limits, never the device rules (`runts update` passes the spec's too). */
  override update(res: LinuxResources): void {
    const { devices: _, ...rest } = res;
    super.update(rest);
  }
}

/** A disabled manager that says why. */
export class RootlessNoCgroup extends DisabledManager {
  /** Why the container has no cgroup (for the --debug line). */
  readonly reason: string;
  /** A manager that manages nothing, with its reason. */
  constructor(reason: string) {
    super();
    this.reason = reason;
  }
}

/** Options of {@linkcode rootlessCgroupManager}. */
export interface RootlessCgroupOptions {
  /** The cgroup2 mount point and the container's directory under it; undefined: no cgroup2. */
  unified: { mountPoint: string; dir: string } | undefined;
  /** linux.resources of the spec. */
  resources: LinuxResources | undefined;
  /** The caller's uid. */
  uid: number;
  /** Owner uid of a path, undefined when it does not exist (default: lstat). */
  ownerOf?: (path: string) => number | undefined;
  /** Filesystem backend and SIGKILL sender for the manager. */
  fs: CgroupFs;
  kill?: (pid: number) => void;
}

function ownerOfHost(path: string): number | undefined {
  try {
    return Deno.lstatSync(path).uid ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cgroup manager of a rootless container (see the module doc).
 *
 * @throws {CgroupError} when limits are asked for and there is no delegated cgroup2 subtree.
 */
export function rootlessCgroupManager(o: RootlessCgroupOptions): CgroupManager {
  const limits = requestedLimits(o.resources);
  const owner = o.ownerOf ?? ownerOfHost;
  let why: string;
  if (o.unified === undefined) {
    why = "the host has no cgroup2 hierarchy to delegate";
  } else {
    const { mountPoint, dir } = o.unified;
    let cur = dir;
    while (cur !== mountPoint && cur.startsWith(`${mountPoint}/`) && owner(cur) === undefined) {
      cur = dirname(cur);
    }
    const mine = cur !== mountPoint && owner(cur) === o.uid;
    if (mine) {
      const opts: V2ManagerOptions = {
        fs: o.fs,
        mountPoint,
        dir,
        ...(o.kill ? { kill: o.kill } : {}),
      };
      return new RootlessV2Manager(opts);
    }
    why = `${JSON.stringify(cur)} (for ${JSON.stringify(dir)}) is not delegated to uid ${o.uid}`;
  }
  if (limits.length === 0) {
    return new RootlessNoCgroup(`rootless: running without a cgroup of its own: ${why}`);
  }
  throw new CgroupError(
    "linux.resources",
    `rootless: ${
      limits.join(", ")
    } requested, but ${why} (give a writable cgroup v2 subtree: the caller's own cgroup or linux.cgroupsPath)`,
  );
}
