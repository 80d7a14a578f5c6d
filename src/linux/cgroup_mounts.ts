/**
 * What a `cgroup` mount in config.json becomes: a tmpfs with one mount per hierarchy the host
 * has (v1 controllers, a named hierarchy, the cgroup2 hierarchy), read from the host's
 * mountinfo and the process's /proc/self/cgroup.
 * @module
 */
import { parseMountinfo } from "./mountinfo.ts";

/** One cgroup hierarchy as the container will see it. */
export interface CgroupHierarchy {
  /** Directory under the cgroup mount ("cpu", "unified", "" for a pure cgroup2 host). */
  dir: string;
  /** Filesystem type. */
  type: "cgroup" | "cgroup2";
  /** fsconfig parameters: controller flags ("cpu") or "name=systemd". */
  options: string[];
  /** Host path of the process's own cgroup in it (bound when there is no cgroup namespace). */
  hostPath: string;
}

/** Parses /proc/self/mountinfo and /proc/self/cgroup texts into hierarchies. */
export function parseCgroupLayout(mountinfo: string, procCgroup: string): CgroupHierarchy[] {
  const own = new Map<string, string>();
  for (const line of procCgroup.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) own.set(m[1]!, m[2]!);
  }
  const out: CgroupHierarchy[] = [];
  for (const m of parseMountinfo(mountinfo)) {
    const { fstype, mountPoint, root } = m;
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    if (!mountPoint.startsWith("/sys/fs/cgroup")) continue;
    const dir = mountPoint.slice("/sys/fs/cgroup".length).replace(/^\//, "");
    if (fstype === "cgroup2") {
      const path = own.get("") ?? "/";
      out.push({ dir, type: "cgroup2", options: [], hostPath: joinCg(mountPoint, root, path) });
      continue;
    }
    const options = m.superOptions.filter((o) =>
      o !== "rw" && o !== "ro" && !o.startsWith("release_agent") && o !== "clone_children" &&
      o !== "noprefix" && o !== "xattr"
    );
    const key = options.map((o) => o).join(",");
    const path = own.get(key) ?? own.get(options.join(",")) ?? "/";
    out.push({ dir, type: "cgroup", options, hostPath: joinCg(mountPoint, root, path) });
  }
  return out;
}

function joinCg(mountPoint: string, root: string, path: string): string {
  const rel = path.startsWith(root) ? path.slice(root.length) : path;
  return (mountPoint + "/" + rel).replace(/\/+/g, "/").replace(/\/$/, "") || "/";
}

/** The hierarchies of this host, as seen by the calling process. */
export function cgroupLayout(): CgroupHierarchy[] {
  return parseCgroupLayout(
    Deno.readTextFileSync("/proc/self/mountinfo"),
    Deno.readTextFileSync("/proc/self/cgroup"),
  );
}

/**
 * The cgroup.procs files of the cgroups `pid` is in (one per hierarchy), to put another
 * process beside it (exec joins the container's cgroup this way).
 */
export function cgroupProcsOf(pid: number): string[] {
  let procCgroup: string;
  try {
    procCgroup = Deno.readTextFileSync(`/proc/${pid}/cgroup`);
  } catch {
    return [];
  }
  const own = parseCgroupLayout(
    Deno.readTextFileSync("/proc/self/mountinfo"),
    Deno.readTextFileSync("/proc/self/cgroup"),
  );
  const theirs = parseCgroupLayout(Deno.readTextFileSync("/proc/self/mountinfo"), procCgroup);
  // Only hierarchies where the process is somewhere else than we are.
  return theirs
    .filter((h, i) => h.hostPath !== own[i]?.hostPath)
    .map((h) => `${h.hostPath}/cgroup.procs`);
}
