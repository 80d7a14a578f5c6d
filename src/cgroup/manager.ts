/**
 * Picks the cgroup manager for a container: detects the host's layout (v1, v2, or hybrid: v1
 * controllers plus a cgroup2 hierarchy at /sys/fs/cgroup/unified) from mountinfo, and resolves
 * `linux.cgroupsPath` as runc's cgroupfs driver does.
 *
 * - absolute (`/docker/abc`): under the root of every hierarchy
 *   (`/sys/fs/cgroup/memory/docker/abc`, ..., `/sys/fs/cgroup/unified/docker/abc`);
 * - relative (`pod1/abc`): under the calling process's own cgroup in each hierarchy, read from
 *   /proc/self/cgroup (runc's GetOwnCgroupPath), `..` cannot climb out;
 * - empty: `/runts/<id>` (runc nests `<id>` under its own cgroup instead; a fixed absolute
 *   parent keeps containers out of whatever cgroup the caller happens to be in, and on v2 out
 *   of a cgroup with processes, which could not delegate controllers);
 * - `slice:prefix:name` (systemd): refused unless `systemd` is set (`--systemd-cgroup`); then
 *   the container's cgroup is a transient scope that systemd creates (systemd.ts).
 *
 * @example
 * ```ts
 * const cg = cgroupManagerFor({ cgroupsPath: spec.linux?.cgroupsPath, id });
 * cg.create();
 * cg.apply(spec.linux?.resources ?? {});
 * // the init writes "0" into each of cg.procsFiles() first thing
 * ```
 * @module
 */
import { join, normalize } from "../path.ts";
import type { LinuxResources, Spec } from "../oci/spec.ts";
import { CgroupError, type CgroupFs, type CgroupManager, hostCgroupFs } from "./_common.ts";
import { DisabledManager } from "./disabled.ts";
import { type V1Hierarchy, V1Manager } from "./v1.ts";
import { V2Manager } from "./v2.ts";
import { parseMountinfo } from "../linux/mountinfo.ts";
import { rootlessCaller, rootlessCgroupManager } from "./rootless.ts";
import type { SystemdManager, SystemdUnits } from "./systemd.ts";
import { parseSystemdPath, scopeDir } from "./systemd_path.ts";

export type {
  BlkioEntry,
  CgroupErrorJSON,
  CgroupFs,
  CgroupFsOp,
  CgroupManager,
  CpuUsage,
  HugetlbStats,
  MemoryEntry,
  Stats,
  Throttling,
} from "./_common.ts";
export { CgroupError, emptyStats, hostCgroupFs, RecordingCgroupFs } from "./_common.ts";
export { DisabledManager } from "./disabled.ts";
export { rootlessCaller, RootlessNoCgroup, RootlessV2Manager } from "./rootless.ts";
export { V1Manager } from "./v1.ts";
export { isSystemdCgroupsPath } from "./systemd_path.ts";
export type { SystemdManager } from "./systemd.ts";

/** The systemd driver (it loads the D-Bus library): loaded by loadCgroupDrivers() when used. */
let systemdDriver: typeof import("./systemd.ts") | undefined;

/**
 * Loads the cgroup drivers `cgroupManagerFor` will be asked for that are not loaded with this
 * module: the systemd driver. Call it before asking for a systemd manager.
 */
export async function loadCgroupDrivers(o: { systemd?: boolean }): Promise<void> {
  if (o.systemd === true) systemdDriver ??= await import("./systemd.ts");
}
export { applyDevicesV2, blkioWeightToIoWeight, sharesToWeight, V2Manager } from "./v2.ts";

/** Where cgroup hierarchies are mounted. */
export const DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup";

/** The parent of containers created without a cgroupsPath. */
export const DEFAULT_PARENT = "/runts";

/** A mounted cgroup hierarchy. */
export interface CgroupMount {
  /** `cgroup` (v1) or `cgroup2`. */
  type: "cgroup" | "cgroup2";
  /** Mount point, moved under fsRoot when one is given. */
  mountPoint: string;
  /** The cgroup the mount shows at its mount point (mountinfo's root field, usually "/"). */
  root: string;
  /** v1 controllers (`["cpu", "cpuacct"]`, `["name=systemd"]`); [] for cgroup2. */
  controllers: string[];
}

/** The host's cgroup layout. */
export interface CgroupLayout {
  /** v1 only, v2 only, or v1 with a cgroup2 hierarchy beside it. */
  mode: "v1" | "v2" | "hybrid";
  /** The writable v1 hierarchies (empty on v2). */
  v1: CgroupMount[];
  /** The cgroup2 hierarchy (v2 and hybrid). */
  unified: CgroupMount | undefined;
}

/** Super options of a v1 mount that are not controllers. */
const NOT_CONTROLLERS = new Set([
  "rw",
  "ro",
  "noprefix",
  "xattr",
  "clone_children",
  "cpuset_v2_mode",
  "favordynmods",
  "none",
]);

function rebase(mountPoint: string, fsRoot: string): string {
  if (fsRoot === DEFAULT_CGROUP_ROOT) return mountPoint;
  if (mountPoint === DEFAULT_CGROUP_ROOT) return fsRoot;
  if (mountPoint.startsWith(`${DEFAULT_CGROUP_ROOT}/`)) {
    return fsRoot + mountPoint.slice(DEFAULT_CGROUP_ROOT.length);
  }
  return mountPoint;
}

/**
 * Reads the cgroup layout from /proc/self/mountinfo text. Read-only mounts are left out (no
 * cgroup can be created there); of several mounts of one hierarchy, the one under
 * /sys/fs/cgroup wins. With `fsRoot`, mount points under /sys/fs/cgroup are moved under it
 * (tests point it at a temp dir laid out like /sys/fs/cgroup).
 *
 * @throws {CgroupError} when no writable cgroup hierarchy is mounted.
 */
export function detectCgroupLayout(
  mountinfo: string,
  fsRoot: string = DEFAULT_CGROUP_ROOT,
): CgroupLayout {
  const v1 = new Map<string, CgroupMount & { preferred: boolean }>();
  const v2: (CgroupMount & { preferred: number })[] = [];
  for (const m of parseMountinfo(mountinfo)) {
    const { fstype, root, mountPoint: mp } = m;
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    if (m.mountOptions.includes("ro") || m.superOptions.includes("ro")) continue;
    const under = mp === DEFAULT_CGROUP_ROOT || mp.startsWith(`${DEFAULT_CGROUP_ROOT}/`);
    const mountPoint = rebase(mp, fsRoot);
    if (fstype === "cgroup2") {
      const preferred = mp === DEFAULT_CGROUP_ROOT ? 2 : under ? 1 : 0;
      v2.push({ type: "cgroup2", mountPoint, root, controllers: [], preferred });
      continue;
    }
    const controllers = m.superOptions.filter((o) =>
      o !== "" && !NOT_CONTROLLERS.has(o) && !o.startsWith("release_agent=")
    );
    if (controllers.length === 0) continue;
    const key = [...controllers].sort().join(",");
    const prev = v1.get(key);
    if (prev === undefined || (!prev.preferred && under)) {
      v1.set(key, { type: "cgroup", mountPoint, root, controllers, preferred: under });
    }
  }
  v2.sort((a, b) => b.preferred - a.preferred);
  const strip = <T extends { preferred: unknown }>(m: T): CgroupMount => {
    const { preferred: _, ...rest } = m;
    return rest as unknown as CgroupMount;
  };
  const unified = v2[0] === undefined ? undefined : strip(v2[0]);
  if (v2[0] !== undefined && v2[0].preferred === 2) return { mode: "v2", v1: [], unified };
  const hierarchies = [...v1.values()].map(strip);
  if (hierarchies.length > 0) {
    return { mode: unified === undefined ? "v1" : "hybrid", v1: hierarchies, unified };
  }
  if (unified !== undefined) return { mode: "v2", v1: [], unified };
  throw new CgroupError(
    "",
    "no writable cgroup hierarchy is mounted (see /proc/self/mountinfo); mount cgroups or disable them",
  );
}

/**
 * The process's own cgroups from /proc/self/cgroup text: key is the sorted controller list
 * (`cpu,cpuacct`, `name=systemd`), "" for cgroup2.
 */
export function parseProcSelfCgroup(text: string): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    own.set(m[1]!.split(",").filter((c) => c !== "").sort().join(","), m[2]!);
  }
  return own;
}

/** A cgroupsPath after resolution: the inner path and whether it hangs off our own cgroup. */
export interface ResolvedCgroupsPath {
  /** Cleaned path (`/docker/abc`, or `pod/abc` when relative). */
  inner: string;
  /** Relative to the calling process's cgroup in each hierarchy. */
  relative: boolean;
}

/**
 * Cleans `linux.cgroupsPath` as runc does (`..` cannot climb out of a relative path) and picks
 * the default `/runts/<id>` when it is empty.
 *
 * @throws {CgroupError} for a systemd-style `slice:prefix:name`, or a path naming the root
 * (or, relative, the caller's own) cgroup, which destroy() would empty.
 */
export function resolveCgroupsPath(
  cgroupsPath: string | undefined,
  id: string,
): ResolvedCgroupsPath {
  const F = "linux.cgroupsPath";
  if (cgroupsPath === undefined || cgroupsPath === "") {
    if (id === "" || id.includes("/") || id === "." || id === "..") {
      throw new CgroupError("", `container id ${JSON.stringify(id)} cannot name a cgroup`);
    }
    return { inner: `${DEFAULT_PARENT}/${id}`, relative: false };
  }
  if (/^[^/:]*:[^/:]*:[^/:]*$/.test(cgroupsPath)) {
    throw new CgroupError(
      F,
      `${
        JSON.stringify(cgroupsPath)
      } is a systemd unit path (slice:prefix:name); systemd cgroup paths need --systemd-cgroup, not supported`,
    );
  }
  const relative = !cgroupsPath.startsWith("/");
  const clean = normalize(`/${cgroupsPath}`).replace(/\/+$/, "");
  if (clean === "") {
    throw new CgroupError(
      F,
      `${JSON.stringify(cgroupsPath)} names ${
        relative ? "the runtime's own" : "the root"
      } cgroup; a container needs a cgroup of its own`,
    );
  }
  return { inner: relative ? clean.slice(1) : clean, relative };
}

/** The container's directory in one hierarchy. */
export function cgroupDirIn(
  m: CgroupMount,
  path: ResolvedCgroupsPath,
  own: Map<string, string>,
): string {
  if (!path.relative) return join(m.mountPoint, path.inner);
  const key = m.type === "cgroup2" ? "" : [...m.controllers].sort().join(",");
  const mine = own.get(key) ?? "/";
  const rel = m.root !== "/" && (mine === m.root || mine.startsWith(`${m.root}/`))
    ? mine.slice(m.root.length)
    : mine;
  return join(m.mountPoint, rel, path.inner);
}

/** Options of {@linkcode cgroupManagerFor}. */
export interface CgroupManagerOptions {
  /** `linux.cgroupsPath` of the spec. */
  cgroupsPath: string | undefined;
  /** The container id (names the default cgroup). */
  id: string;
  /** Where hierarchies are mounted (default /sys/fs/cgroup; tests: a temp dir). */
  fsRoot?: string;
  /** /proc/self/mountinfo text (default: read it). */
  mountinfo?: string;
  /** /proc/self/cgroup text (default: read it when the path is relative). */
  procSelfCgroup?: string;
  /** No cgroups at all: the null manager. */
  disabled?: boolean;
  /** The systemd driver (--systemd-cgroup): the cgroup is a transient scope unit. */
  systemd?: boolean;
  /** Connects to systemd (default: the system bus; tests: a fake). */
  systemdConnect?: () => SystemdUnits;
  /** Filesystem backend (default: the host's). */
  fs?: CgroupFs;
  /** SIGKILL sender used by destroy() (default: Deno.kill). */
  kill?: (pid: number) => void;
  /**
   * The rootless rules apply (see rootless.ts): the caller is not root of the host; callers pass
   * rootlessCaller(). Default false, so tests on fake trees are not affected by who runs them.
   */
  rootless?: boolean;
  /** The caller's uid, owner of a delegated subtree (default: the process's). */
  uid?: number;
  /** linux.resources (only the rootless decision reads it: does the container ask for limits). */
  resources?: LinuxResources;
  /** Owner uid of a path (rootless delegation check; default: lstat). */
  ownerOf?: (path: string) => number | undefined;
}

/**
 * The manager of a container's cgroup as its spec asks for it (linux.cgroupsPath, the resources)
 * and the caller is placed (the rootless rules when it is not root of the host): the one every
 * command and the sandbox process build. `systemd`: the driver --systemd-cgroup chose.
 */
export function cgroupManagerOfSpec(spec: Spec, id: string, systemd: boolean): CgroupManager {
  return cgroupManagerFor({
    cgroupsPath: spec.linux?.cgroupsPath,
    id,
    systemd,
    ...(spec.linux?.resources ? { resources: spec.linux.resources } : {}),
    rootless: rootlessCaller(),
  });
}

/**
 * The manager for a container's cgroup on this host (nothing is created until create()).
 *
 * @throws {CgroupError} for a systemd-style or root cgroupsPath, or a host with no cgroups.
 */
export function cgroupManagerFor(opts: CgroupManagerOptions): CgroupManager {
  if (opts.disabled === true) return new DisabledManager();
  if (opts.systemd === true) return systemdManagerFor(opts);
  const path = resolveCgroupsPath(opts.cgroupsPath, opts.id);
  const fsRoot = opts.fsRoot ?? DEFAULT_CGROUP_ROOT;
  const layout = detectCgroupLayout(
    opts.mountinfo ?? Deno.readTextFileSync("/proc/self/mountinfo"),
    fsRoot,
  );
  const own = path.relative
    ? parseProcSelfCgroup(opts.procSelfCgroup ?? Deno.readTextFileSync("/proc/self/cgroup"))
    : new Map<string, string>();
  const fs = opts.fs ?? hostCgroupFs;
  const kill = opts.kill === undefined ? {} : { kill: opts.kill };
  if (opts.rootless === true) {
    const uid = opts.uid ?? Deno.uid() ?? 0;
    const u = layout.unified;
    return rootlessCgroupManager({
      unified: u === undefined
        ? undefined
        : { mountPoint: u.mountPoint, dir: cgroupDirIn(u, path, own) },
      resources: opts.resources,
      uid,
      fs,
      ...kill,
      ...(opts.ownerOf ? { ownerOf: opts.ownerOf } : {}),
    });
  }
  if (layout.mode === "v2") {
    const u = layout.unified!;
    return new V2Manager({ fs, mountPoint: u.mountPoint, dir: cgroupDirIn(u, path, own), ...kill });
  }
  const hierarchies: V1Hierarchy[] = layout.v1.map((m) => ({
    controllers: m.controllers,
    mountPoint: m.mountPoint,
    dir: cgroupDirIn(m, path, own),
  }));
  const u = layout.unified;
  return new V1Manager({
    fs,
    hierarchies,
    ...(u === undefined
      ? {}
      : { unified: { mountPoint: u.mountPoint, dir: cgroupDirIn(u, path, own) } }),
    ...kill,
  });
}

/**
 * Checks a container's cgroup and resources before anything is created (runc's checks, and
 * what would otherwise fail late):
 *
 * - a cgroup that exists and is frozen is refused: the init would be frozen in it and
 *   `create` would never return;
 * - `linux.resources.unified` keys this host cannot apply are refused in one error;
 * - a cgroup that already has processes is a warning (runc warns too): they share the
 *   container's limits and are killed when the container is deleted.
 *
 * @returns the warnings, one line each
 * @throws {CgroupError} for a frozen cgroup or unified keys this host cannot apply
 */
export function checkBeforeCreate(cg: CgroupManager, res: LinuxResources): string[] {
  cg.checkResources?.(res);
  const paths = cg.paths();
  const where = paths["freezer"] ?? paths[""] ?? Object.values(paths)[0] ?? "";
  let frozen = false;
  try {
    frozen = cg.frozen();
  } catch {
    // no freezer on this host: nothing can be frozen
  }
  if (frozen) {
    throw new CgroupError(
      "linux.cgroupsPath",
      `the cgroup ${JSON.stringify(where)} exists and is frozen; a container cannot start in ` +
        "it (thaw it, or use another cgroupsPath)",
    );
  }
  const pids = cg.pids();
  if (pids.length === 0) return [];
  return [
    `the container's cgroup ${JSON.stringify(where)} is not empty: ${pids.length} ` +
    `process(es) found (${pids.slice(0, 10).join(", ")}${pids.length > 10 ? ", ..." : ""}); ` +
    "they share its limits and are killed when the container is deleted",
  ];
}

/** The systemd driver's manager: a scope in every hierarchy, its files handled by v1 or v2. */
function systemdManagerFor(opts: CgroupManagerOptions): SystemdManager {
  if (systemdDriver === undefined) {
    throw new Error("the systemd cgroup driver is not loaded (loadCgroupDrivers)");
  }
  const path = parseSystemdPath(opts.cgroupsPath, opts.id);
  const layout = detectCgroupLayout(
    opts.mountinfo ?? Deno.readTextFileSync("/proc/self/mountinfo"),
    opts.fsRoot ?? DEFAULT_CGROUP_ROOT,
  );
  const fs = opts.fs ?? hostCgroupFs;
  const kill = opts.kill === undefined ? {} : { kill: opts.kill };
  const u = layout.unified;
  const files = layout.mode === "v2"
    ? new V2Manager({ fs, mountPoint: u!.mountPoint, dir: scopeDir(u!.mountPoint, path), ...kill })
    : new V1Manager({
      fs,
      hierarchies: layout.v1.map((m) => ({
        controllers: m.controllers,
        mountPoint: m.mountPoint,
        dir: scopeDir(m.mountPoint, path),
      })),
      ...(u === undefined
        ? {}
        : { unified: { mountPoint: u.mountPoint, dir: scopeDir(u.mountPoint, path) } }),
      ...kill,
    });
  return new systemdDriver.SystemdManager({
    path,
    id: opts.id,
    files,
    mode: layout.mode === "v2" ? "v2" : "v1",
    fs,
    ...kill,
    ...(opts.systemdConnect ? { connect: opts.systemdConnect } : {}),
  });
}
