/**
 * linux.readonlyPaths and linux.maskedPaths (a read-only tmpfs over a directory, /dev/null
 * over anything else), root.readonly, and linux.sysctl written before /proc/sys is read-only.
 * @module
 */
import { MOUNT_ATTR_SIZE, mountAttr, OPEN_HOW_SIZE, openHow } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import {
  AT,
  AT_FDCWD,
  E,
  FSCONFIG,
  FSMOUNT_CLOEXEC,
  FSOPEN_CLOEXEC,
  MOUNT_ATTR,
  MOVE_MOUNT,
  O,
  OPEN_TREE_CLOEXEC,
  OPEN_TREE_CLONE,
  RESOLVE,
} from "../consts.ts";
import type { Builder } from "./builder.ts";
import { moveMount } from "./mounts.ts";

/** linux.readonlyPaths, linux.maskedPaths, then root.readonly. */
export function maskAndReadonly(b: Builder): void {
  const linux = b.spec.linux ?? {};
  const how = openHow(O.PATH | O.CLOEXEC | O.NOFOLLOW, 0, RESOLVE.NO_MAGICLINKS);
  for (const path of linux.readonlyPaths ?? []) {
    const q = JSON.stringify(path);
    const end = `ro-end:${path}`;
    const tree = b.call("open_tree", SYS.open_tree, [
      AT_FDCWD,
      path,
      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT.RECURSIVE,
    ], { ok: [E.ENOENT], onErrGoto: end, subject: `readonly path ${q}` });
    b.call("mount_setattr", SYS.mount_setattr, [
      tree,
      "",
      AT.EMPTY_PATH | AT.RECURSIVE,
      mountAttr(MOUNT_ATTR.RDONLY, 0, 0),
      MOUNT_ATTR_SIZE,
    ], { subject: `readonly path ${q}` });
    const tgt = b.call("openat2", SYS.openat2, [AT_FDCWD, path, how, OPEN_HOW_SIZE], {
      subject: `readonly path ${q}`,
    });
    moveMount(b, tree, tgt, q);
    b.p.label(end);
  }
  for (const path of linux.maskedPaths ?? []) {
    const q = JSON.stringify(path);
    const end = `mask-end:${path}`;
    const file = `mask-file:${path}`;
    // A directory gets a read-only tmpfs, anything else a bind of /dev/null.
    const dir = b.call("openat2", SYS.openat2, [
      AT_FDCWD,
      path,
      openHow(O.PATH | O.CLOEXEC | O.NOFOLLOW | O.DIRECTORY, 0, RESOLVE.NO_MAGICLINKS),
      OPEN_HOW_SIZE,
    ], { ok: [E.ENOENT, E.ENOTDIR], onErrGoto: file, subject: `masked path ${q}` });
    const fs = b.call("fsopen", SYS.fsopen, ["tmpfs", FSOPEN_CLOEXEC], {
      subject: `masked path ${q}`,
    });
    b.call("fsconfig", SYS.fsconfig, [fs, FSCONFIG.CMD_CREATE, null, null, 0], {
      subject: `masked path ${q}`,
    });
    const mnt = b.call("fsmount", SYS.fsmount, [fs, FSMOUNT_CLOEXEC, MOUNT_ATTR.RDONLY], {
      subject: `masked path ${q}`,
    });
    b.call("move_mount", SYS.move_mount, [
      mnt,
      "",
      dir,
      "",
      MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH,
    ], { onOkGoto: end, subject: `masked path ${q}` });
    b.p.label(file);
    const tgt = b.call("openat2", SYS.openat2, [AT_FDCWD, path, how, OPEN_HOW_SIZE], {
      ok: [E.ENOENT],
      onErrGoto: end,
      subject: `masked path ${q}`,
    });
    const devNull = b.call("open_tree", SYS.open_tree, [
      AT_FDCWD,
      "/dev/null",
      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
    ], { subject: `"/dev/null" for masked path ${q}` });
    moveMount(b, devNull, tgt, q);
    b.p.label(end);
  }
  if (b.spec.root?.readonly) {
    b.call("mount_setattr", SYS.mount_setattr, [
      AT_FDCWD,
      "/",
      0,
      mountAttr(MOUNT_ATTR.RDONLY, 0, 0),
      MOUNT_ATTR_SIZE,
    ], { subject: "root.readonly" });
  }
}

/** linux.sysctl, written in the container's /proc before /proc/sys is made read-only. */
export function sysctls(b: Builder): void {
  const enc = new TextEncoder();
  for (const [key, value] of Object.entries(b.spec.linux?.sysctl ?? {})) {
    const path = "/proc/sys/" + key.replaceAll(".", "/");
    const fd = b.call("openat", SYS.openat, [AT_FDCWD, path, O.WRONLY | O.CLOEXEC, 0], {
      subject: `sysctl ${JSON.stringify(key)}`,
    });
    const bytes = enc.encode(value);
    b.call("write", SYS.write, [fd, bytes, bytes.byteLength], {
      subject: `sysctl ${JSON.stringify(key)} = ${JSON.stringify(value)}`,
    });
    b.call("close", SYS.close, [fd]);
  }
}
