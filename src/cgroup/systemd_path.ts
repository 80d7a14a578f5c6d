/**
 * systemd cgroupsPath forms (`slice:prefix:name`) and where a scope's cgroup is: apart from the
 * systemd driver (systemd.ts, which loads the D-Bus library), so that commands without
 * --systemd-cgroup do not load it.
 * @module
 */
import { join } from "../path.ts";
import type { Spec } from "../oci/spec.ts";
import { CgroupError } from "./_common.ts";

const F = "linux.cgroupsPath";

/** A systemd cgroupsPath after parsing. */
export interface SystemdPath {
  /** The slice the scope goes in (`system.slice`). */
  slice: string;
  /** The scope unit (`docker-abc.scope`). */
  unit: string;
  /** The scope's cgroup below a hierarchy's root (`/system.slice/docker-abc.scope`). */
  cgroup: string;
}

/** Whether a cgroupsPath has the systemd form `slice:prefix:name`. */
export function isSystemdCgroupsPath(p: string | undefined): boolean {
  return p !== undefined && /^[^/:]*:[^/:]*:[^/:]*$/.test(p);
}

/**
 * With --systemd-cgroup an empty cgroupsPath means `system.slice:runts:<id>`: written into the
 * spec at create, so the stored spec tells every later command which driver and unit it has.
 */
export function pinSystemdCgroupsPath(spec: Spec, id: string): void {
  if (spec.linux?.cgroupsPath === undefined || spec.linux.cgroupsPath === "") {
    spec.linux = { ...spec.linux, cgroupsPath: `system.slice:runts:${id}` };
  }
}

/**
 * A slice name as its cgroup path: `a-b.slice` → `/a.slice/a-b.slice`, `-.slice` → `/`.
 *
 * @throws {CgroupError} for a name that is not a slice (`x`, `a--b.slice`, `-a.slice`, `a/b`).
 */
export function expandSlice(slice: string): string {
  const bad = () =>
    new CgroupError(F, `${JSON.stringify(slice)} is not a valid systemd slice name`);
  if (!slice.endsWith(".slice") || slice.includes("/")) throw bad();
  const base = slice.slice(0, -".slice".length);
  if (base === "-") return "/";
  let path = "";
  let prefix = "";
  for (const part of base.split("-")) {
    if (part === "") throw bad();
    path += `/${prefix}${part}.slice`;
    prefix += `${part}-`;
  }
  return path;
}

/**
 * Parses `slice:prefix:name` as runc does (empty: `system.slice:runts:<id>`).
 *
 * @throws {CgroupError} for another form, a bad slice, or a name that is not a unit name.
 */
export function parseSystemdPath(cgroupsPath: string | undefined, id: string): SystemdPath {
  const parts = cgroupsPath === undefined || cgroupsPath === ""
    ? ["", "runts", id]
    : cgroupsPath.split(":");
  if (parts.length !== 3) {
    throw new CgroupError(
      F,
      `${
        JSON.stringify(cgroupsPath)
      } is not of the form "slice:prefix:name" that --systemd-cgroup needs`,
    );
  }
  const [sliceIn, prefix, name] = parts as [string, string, string];
  const slice = sliceIn === "" ? "system.slice" : sliceIn;
  const sliceDir = expandSlice(slice);
  if (name === "" || name.endsWith(".slice")) {
    throw new CgroupError(
      F,
      `${JSON.stringify(cgroupsPath)}: the name part must name a scope ${
        name === "" ? "(it is empty)" : "(creating a slice unit is not supported)"
      }`,
    );
  }
  const unit = prefix === "" ? `${name}.scope` : `${prefix}-${name}.scope`;
  if (unit.includes("/") || !/^[A-Za-z0-9:_.\\@-]+$/.test(unit)) {
    throw new CgroupError(F, `${JSON.stringify(unit)} is not a valid systemd unit name`);
  }
  return { slice, unit, cgroup: join(sliceDir, unit) };
}

/** The scope's directory under a hierarchy mounted at `mountPoint`. */
export function scopeDir(mountPoint: string, path: SystemdPath): string {
  return join(mountPoint, path.cgroup.slice(1));
}
