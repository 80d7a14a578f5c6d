/**
 * /proc/<pid>/mountinfo, parsed once for everyone who reads it (the cgroup managers' layout, the
 * cgroup mounts given to containers, the mount that holds a path, the host's proc and sysfs).
 * @module
 */

/** One line of mountinfo (proc(5)), paths unescaped. */
export interface MountInfo {
  /** The directory the filesystem shows at its mount point ("/" for a whole filesystem). */
  root: string;
  /** Where it is mounted. */
  mountPoint: string;
  /** Per-mount options. */
  mountOptions: string[];
  /** Optional fields ("shared:1", "master:2"...). */
  optional: string[];
  /** Filesystem type. */
  fstype: string;
  /** Mount source. */
  source: string;
  /** Per-superblock options (cgroup v1: the controllers). */
  superOptions: string[];
}

/** Undoes mountinfo's octal escapes (`\040` for a space). */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo text; lines without the ` - ` separator are skipped. */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const [fstype = "", source = "", superOpts = ""] = line.slice(sep + 3).split(" ");
    out.push({
      root: unescapeMountinfo(left[3] ?? "/"),
      mountPoint: unescapeMountinfo(left[4] ?? "/"),
      mountOptions: (left[5] ?? "").split(","),
      optional: left.slice(6),
      fstype,
      source: unescapeMountinfo(source),
      superOptions: superOpts === "" ? [] : superOpts.split(","),
    });
  }
  return out;
}

function under(path: string, dir: string): boolean {
  return dir === "/" || path === dir || path.startsWith(dir + "/");
}

/** The mount that holds `path` (an absolute path without symlinks): the last one over it. */
export function mountOf(mounts: MountInfo[], path: string): MountInfo | undefined {
  return mounts.findLast((m) => under(path, m.mountPoint));
}

/**
 * Whole proc and sysfs mounts outside `rootfs`: in a mount namespace that keeps them (no
 * pivot_root), they let the kernel allow a fresh proc or sysfs mount over a masked one.
 */
export function procSysOutside(mounts: MountInfo[], rootfs: string): string[] {
  return mounts
    .filter((m) =>
      (m.fstype === "proc" || m.fstype === "sysfs") && m.root === "/" &&
      !under(m.mountPoint, rootfs)
    )
    .map((m) => m.mountPoint);
}
