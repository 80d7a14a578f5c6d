/**
 * OCI mount options (`"ro"`, `"rbind"`, `"mode=755"`...) split into what the new mount API
 * takes: attribute flags for fsmount/mount_setattr, propagation, and filesystem parameters for
 * fsconfig.
 * @module
 */
import { MOUNT_ATTR, MS } from "./consts.ts";

/** Parsed mount options. */
export interface MountOptions {
  /** A bind mount ("bind" or "rbind", or type "bind"). */
  bind: boolean;
  /** Recursive bind ("rbind"). */
  recursive: boolean;
  /** MOUNT_ATTR_* flags to set. */
  attrSet: number;
  /** MOUNT_ATTR_* flags to clear. */
  attrClr: number;
  /** MOUNT_ATTR_* flags set on every submount too ("rro", "rnosuid"...: AT_RECURSIVE). */
  recAttrSet: number;
  /** MOUNT_ATTR_* flags cleared on every submount too ("rrw", "rsuid"...). */
  recAttrClr: number;
  /** MS_SHARED / MS_SLAVE / MS_PRIVATE / MS_UNBINDABLE, or 0. */
  propagation: number;
  /** The propagation applies to the whole tree ("rshared"...). */
  propagationRecursive: boolean;
  /** Filesystem parameters for fsconfig: [key, value] (value undefined: a flag). */
  data: [string, string | undefined][];
}

const SET: Record<string, number> = {
  ro: MOUNT_ATTR.RDONLY,
  nosuid: MOUNT_ATTR.NOSUID,
  nodev: MOUNT_ATTR.NODEV,
  noexec: MOUNT_ATTR.NOEXEC,
  nodiratime: MOUNT_ATTR.NODIRATIME,
  nosymfollow: MOUNT_ATTR.NOSYMFOLLOW,
};
const CLR: Record<string, number> = {
  rw: MOUNT_ATTR.RDONLY,
  suid: MOUNT_ATTR.NOSUID,
  dev: MOUNT_ATTR.NODEV,
  exec: MOUNT_ATTR.NOEXEC,
  diratime: MOUNT_ATTR.NODIRATIME,
  symfollow: MOUNT_ATTR.NOSYMFOLLOW,
};
const ATIME: Record<string, number> = {
  relatime: MOUNT_ATTR.RELATIME,
  noatime: MOUNT_ATTR.NOATIME,
  strictatime: MOUNT_ATTR.STRICTATIME,
};
const PROPAGATION: Record<string, number> = {
  shared: MS.SHARED,
  slave: MS.SLAVE,
  private: MS.PRIVATE,
  unbindable: MS.UNBINDABLE,
};
/**
 * Superblock flags: filesystem data like any other option without `=` (fsconfig's flags, which
 * the kernel parses for every filesystem type); a bind mount has no superblock of its own and
 * ignores them, as mount(2) does. Listed for {@linkcode mountOptionNames}.
 */
const SB_FLAGS = new Set(["sync", "async", "dirsync", "lazytime", "nolazytime"]);
/**
 * Accepted and without effect: mandatory locks (gone from the kernel), mount(8)'s `defaults`,
 * `remount`, `silent`/`loud`, `norelatime`, `tmpcopyup` (a Podman option), and `iversion`,
 * which the new mount API cannot set (the filesystem decides; runc's MS_I_VERSION is ignored
 * by the filesystems that do not keep one).
 */
const IGNORED = new Set([
  "mand",
  "nomand",
  "silent",
  "loud",
  "norelatime",
  "defaults",
  "remount",
  "tmpcopyup",
  "iversion",
  "noiversion",
]);

/**
 * Every option name runts recognizes (`runts features`): those {@linkcode parseMountOptions}
 * takes itself and the superblock flags; other options are filesystem data. Made when asked,
 * not when a create loads this module.
 */
export function mountOptionNames(): string[] {
  const tables = [SET, CLR, ATIME, PROPAGATION].map((t) => Object.keys(t));
  return [
    ...new Set([
      "bind",
      "rbind",
      ...tables.flat(),
      ...tables.flat().map((k) => `r${k}`),
      ...SB_FLAGS,
      ...IGNORED,
    ]),
  ].sort();
}

/** Parses a mount's options; `type` "bind" makes it a bind mount too. */
export function parseMountOptions(options: readonly string[], type?: string): MountOptions {
  const o: MountOptions = {
    bind: type === "bind",
    recursive: false,
    attrSet: 0,
    attrClr: 0,
    recAttrSet: 0,
    recAttrClr: 0,
    propagation: 0,
    propagationRecursive: false,
    data: [],
  };
  for (const opt of options) {
    if (opt === "bind") o.bind = true;
    else if (opt === "rbind") {
      o.bind = true;
      o.recursive = true;
    } else if (opt in SET) {
      o.attrSet |= SET[opt]!;
      o.attrClr &= ~SET[opt]!;
    } else if (opt in CLR) {
      o.attrClr |= CLR[opt]!;
      o.attrSet &= ~CLR[opt]!;
    } else if (opt in ATIME) {
      o.attrClr |= MOUNT_ATTR.ATIME_MASK;
      o.attrSet = (o.attrSet & ~MOUNT_ATTR.ATIME_MASK) | ATIME[opt]!;
    } else if (opt in PROPAGATION) {
      o.propagation = PROPAGATION[opt]!;
      o.propagationRecursive = false;
    } else if (opt.startsWith("r") && opt.slice(1) in PROPAGATION) {
      o.propagation = PROPAGATION[opt.slice(1)]!;
      o.propagationRecursive = true;
    } else if (opt.startsWith("r") && opt.slice(1) in SET) {
      o.recAttrSet |= SET[opt.slice(1)]!;
      o.recAttrClr &= ~SET[opt.slice(1)]!;
    } else if (opt.startsWith("r") && opt.slice(1) in CLR) {
      o.recAttrClr |= CLR[opt.slice(1)]!;
      o.recAttrSet &= ~CLR[opt.slice(1)]!;
    } else if (opt.startsWith("r") && opt.slice(1) in ATIME) {
      o.recAttrClr |= MOUNT_ATTR.ATIME_MASK;
      o.recAttrSet = (o.recAttrSet & ~MOUNT_ATTR.ATIME_MASK) | ATIME[opt.slice(1)]!;
    } else if (IGNORED.has(opt)) {
      continue;
    } else {
      const eq = opt.indexOf("=");
      o.data.push(eq < 0 ? [opt, undefined] : [opt.slice(0, eq), opt.slice(eq + 1)]);
    }
  }
  return o;
}

/** The rootfsPropagation value as mount(2) flags (default: rslave, as runc). */
export function rootPropagationFlags(value: string | undefined): number {
  switch (value ?? "") {
    case "":
    case "rslave":
      return MS.SLAVE | MS.REC;
    case "slave":
      return MS.SLAVE;
    case "shared":
      return MS.SHARED;
    case "rshared":
      return MS.SHARED | MS.REC;
    case "private":
      return MS.PRIVATE;
    case "rprivate":
      return MS.PRIVATE | MS.REC;
    case "unbindable":
      return MS.UNBINDABLE;
    case "runbindable":
      return MS.UNBINDABLE | MS.REC;
    default:
      throw new Error(`linux.rootfsPropagation: unknown value "${value}"`);
  }
}
