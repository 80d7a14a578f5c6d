/**
 * /proc/<pid>/mountinfo, parsed once for everyone who reads it (the cgroup managers' layout,
 * the cgroup mounts given to containers).
 * @module
 */

/** One line of mountinfo (proc(5)), paths unescaped. */
export interface MountinfoEntry {
  /** The directory of the filesystem that is mounted (field 4). */
  root: string;
  /** Where it is mounted (field 5). */
  mountPoint: string;
  /** Per-mount options (field 6). */
  mountOptions: string[];
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

/** Parses mountinfo text; malformed lines are skipped. */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const [fstype = "", source = "", superOpts = ""] = line.slice(sep + 3).split(" ");
    out.push({
      root: unescapeMountinfo(left[3] ?? "/"),
      mountPoint: unescapeMountinfo(left[4] ?? ""),
      mountOptions: (left[5] ?? "").split(","),
      fstype,
      source: unescapeMountinfo(source),
      superOptions: superOpts === "" ? [] : superOpts.split(","),
    });
  }
  return out;
}
