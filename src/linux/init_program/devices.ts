/**
 * Device nodes in the container's /dev: the default devices and linux.devices (mknod, or a
 * bind of the host's node in a user namespace), and the /dev symlinks.
 * @module
 */
import { basename, dirname, normalize } from "../../path.ts";
import type { Ref } from "../../../ffi/program.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import { AT, AT_FDCWD, E, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE, S } from "../consts.ts";
import { parseMountOptions } from "../mount_options.ts";
import type { Builder } from "./builder.ts";
import { moveMount } from "./mounts.ts";
import { target } from "./rootfs.ts";

/** The default devices every container gets (runtime-spec "Default Devices"). */
export const DEFAULT_DEVICES = [
  { path: "/dev/null", major: 1, minor: 3 },
  { path: "/dev/zero", major: 1, minor: 5 },
  { path: "/dev/full", major: 1, minor: 7 },
  { path: "/dev/random", major: 1, minor: 8 },
  { path: "/dev/urandom", major: 1, minor: 9 },
  { path: "/dev/tty", major: 5, minor: 0 },
] as const;

/** Linux dev_t from major and minor numbers. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

/** The default devices and linux.devices in /dev (unless /dev is a bind), and its symlinks. */
export function devices(b: Builder, root: Ref): void {
  const mounts = b.spec.mounts ?? [];
  const devBound = mounts.some((m) =>
    normalize(m.destination) === "/dev" && parseMountOptions(m.options ?? [], m.type).bind
  );
  if (devBound) return;
  const inUserNs = b.o.bindDevices === true ||
    (b.spec.linux?.namespaces ?? []).some((n) => n.type === "user");
  const devices = [
    ...DEFAULT_DEVICES.map((d) => ({ ...d, type: "c", fileMode: 0o666, uid: 0, gid: 0 })),
    ...(b.spec.linux?.devices ?? []).map((d) => ({
      path: d.path,
      type: d.type,
      major: d.major ?? 0,
      minor: d.minor ?? 0,
      fileMode: d.fileMode ?? 0o666,
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
    })),
  ];
  const seen = new Set<string>();
  for (const d of devices.reverse()) {
    if (seen.has(d.path)) continue;
    seen.add(d.path);
    const q = JSON.stringify(d.path);
    // Whatever the image has at a device path (a planted file, a symlink elsewhere) is
    // removed first, so the node or bind made here is what later steps (maskedPaths' use of
    // /dev/null among them) find there.
    const dir = target(b, root, dirname(d.path), "dir");
    b.call("unlinkat", SYS.unlinkat, [dir, basename(d.path), 0], {
      ok: [E.ENOENT],
      subject: `image file at ${q}`,
    });
    if (inUserNs) {
      const tgt = target(b, root, d.path, "file");
      const src = b.call("open_tree", SYS.open_tree, [
        AT_FDCWD,
        d.path,
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
      ], { subject: `host device ${q}` });
      moveMount(b, src, tgt, q);
      continue;
    }
    const parent = dir;
    const typeBits = d.type === "b" ? S.IFBLK : d.type === "p" ? S.IFIFO : S.IFCHR;
    b.call("mknodat", SYS.mknodat, [
      parent,
      basename(d.path),
      typeBits | (d.fileMode & 0o7777),
      makedev(d.major, d.minor),
    ], { subject: `device ${q}` });
    if (d.uid !== 0 || d.gid !== 0) {
      b.call("fchownat", SYS.fchownat, [
        parent,
        basename(d.path),
        d.uid,
        d.gid,
        AT.SYMLINK_NOFOLLOW,
      ], { subject: `device ${q}` });
    }
  }
  const dev = target(b, root, "/dev", "dir");
  const links: [string, string][] = [
    ["fd", "/proc/self/fd"],
    ["stdin", "/proc/self/fd/0"],
    ["stdout", "/proc/self/fd/1"],
    ["stderr", "/proc/self/fd/2"],
  ];
  if (mounts.some((m) => normalize(m.destination) === "/dev/pts")) {
    links.push(["ptmx", "pts/ptmx"]);
  }
  for (const [name, to] of links) {
    b.call("symlinkat", SYS.symlinkat, [to, dev, name], {
      ok: [E.EEXIST],
      subject: JSON.stringify("/dev/" + name),
    });
  }
}
