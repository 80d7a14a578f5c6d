/**
 * /proc/self/mountinfo, parsed: which mount holds a path, and the host's proc and sysfs mounts.
 * @module
 */

/** One line of mountinfo. */
export interface MountInfo {
  /** The directory the filesystem shows at its mount point ("/" for a whole filesystem). */
  root: string;
  /** Where it is mounted. */
  mountPoint: string;
  /** Optional fields ("shared:1", "master:2"...). */
  optional: string[];
  /** Filesystem type. */
  fstype: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo text. */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    out.push({
      root: unescape(left[3] ?? "/"),
      mountPoint: unescape(left[4] ?? "/"),
      optional: left.slice(6),
      fstype: line.slice(sep + 3).split(" ")[0] ?? "",
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
