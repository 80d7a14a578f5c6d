/**
 * spec.mounts with the new mount API: bind mounts (open_tree clones, or the fds the parent
 * opened), new filesystems (fsopen/fsconfig/fsmount), the `cgroup` mount, mount attributes
 * (recursive ones too), propagation, and read-only mounts put off until what lies beneath
 * them is made.
 * @module
 */
import { join, normalize } from "../../path.ts";
import type { Ref } from "../../../ffi/program.ts";
import { MOUNT_ATTR_SIZE, mountAttr, OPEN_HOW_SIZE, openHow } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import type { Mount } from "../../oci/spec.ts";
import {
  AT,
  AT_FDCWD,
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
import { type MountOptions, parseMountOptions } from "../mount_options.ts";
import type { Builder } from "./builder.ts";
import { target } from "./rootfs.ts";

/** Every spec mount in order; read-only ones with mounts beneath them are made so last. */
export function mounts(b: Builder, root: Ref): void {
  const mounts = b.spec.mounts ?? [];
  mounts.forEach((m, i) => {
    const opts = parseMountOptions(m.options ?? [], m.type);
    const dest = normalize(m.destination);
    const beneath = (d: string) => normalize(d).startsWith(dest === "/" ? "/" : dest + "/");
    if (
      opts.attrSet & MOUNT_ATTR.RDONLY && m.type !== "cgroup" &&
      (dest === "/dev" || mounts.slice(i + 1).some((n) => beneath(n.destination)))
    ) {
      // Mounted writable, so that what comes beneath can be made; read-only at the end.
      opts.attrSet &= ~MOUNT_ATTR.RDONLY;
      b.readonlyLater.push(b.o.resolvePath?.(m.destination) ?? m.destination);
    }
    mountOne(b, root, m, opts, i);
  });
}

/** The read-only mounts put off by mounts(), once everything under them is in place. */
export function readonlyAtLast(b: Builder): void {
  for (const dest of b.readonlyLater) {
    const q = JSON.stringify(dest);
    const fd = b.call("openat2", SYS.openat2, [
      AT_FDCWD,
      dest,
      openHow(O.PATH | O.CLOEXEC | O.DIRECTORY, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS),
      OPEN_HOW_SIZE,
    ], { subject: q });
    makeReadOnly(b, fd, q);
  }
}

/** One of spec.mounts (`index` in it, for the fds the parent opened). */
export function mountOne(
  b: Builder,
  root: Ref,
  m: Mount,
  opts: MountOptions = parseMountOptions(m.options ?? [], m.type),
  index = -1,
): void {
  const type = m.type ?? "";
  const strict = type === "proc" || type === "sysfs";
  // proc and sysfs never follow a symlink at their destination (CVE-2019-19921).
  const dest = strict ? m.destination : b.o.resolvePath?.(m.destination) ?? m.destination;
  const q = JSON.stringify(m.destination);
  if (opts.bind) {
    const source = m.source ?? "";
    const kind = b.o.bindSources?.[source] ?? "dir";
    const tgt = target(b, root, dest, kind);
    const tree = b.o.bindSourceFds?.[index] ?? b.call("open_tree", SYS.open_tree, [
      AT_FDCWD,
      source,
      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (opts.recursive ? AT.RECURSIVE : 0),
    ], { subject: `bind source ${JSON.stringify(source)} for ${q}` });
    if (opts.attrSet !== 0 || opts.attrClr !== 0) {
      b.call("mount_setattr", SYS.mount_setattr, [
        tree,
        "",
        AT.EMPTY_PATH,
        mountAttr(opts.attrSet, opts.attrClr, 0),
        MOUNT_ATTR_SIZE,
      ], { subject: `options of ${q}` });
    }
    recursiveAttrs(b, tree, opts, q);
    propagation(b, tree, opts.propagation, opts.propagationRecursive, q);
    moveMount(b, tree, tgt, q);
    return;
  }
  if (type === "cgroup") return cgroupMount(b, root, m, opts);
  const tgt = target(b, root, dest, "dir", strict ? { fstype: type } : undefined);
  newMount(b, tgt, type, m.source, opts, q);
}

/** "rro", "rnosuid"...: mount_setattr with AT_RECURSIVE, every submount included. */
export function recursiveAttrs(b: Builder, fd: Ref | number, opts: MountOptions, q: string): void {
  if (opts.recAttrSet === 0 && opts.recAttrClr === 0) return;
  b.call("mount_setattr", SYS.mount_setattr, [
    fd,
    "",
    AT.EMPTY_PATH | AT.RECURSIVE,
    mountAttr(opts.recAttrSet, opts.recAttrClr, 0),
    MOUNT_ATTR_SIZE,
  ], { subject: `recursive options of ${q}` });
}

/** fsopen + fsconfig + fsmount + move_mount of a filesystem onto an open target. */
export function newMount(
  b: Builder,
  tgt: Ref,
  type: string,
  source: string | undefined,
  opts: MountOptions,
  q: string,
) {
  const m = { source };
  const fs = b.call("fsopen", SYS.fsopen, [type, FSOPEN_CLOEXEC], {
    subject: `${JSON.stringify(type)} for ${q}`,
  });
  if (m.source !== undefined && m.source !== "") {
    b.call("fsconfig", SYS.fsconfig, [fs, FSCONFIG.SET_STRING, "source", m.source, 0], {
      subject: `source ${JSON.stringify(m.source)} of ${q}`,
    });
  }
  for (const [key, value] of opts.data) {
    const s = value === undefined ? key : `${key}=${value}`;
    b.call(
      "fsconfig",
      SYS.fsconfig,
      value === undefined
        ? [fs, FSCONFIG.SET_FLAG, key, null, 0]
        : [fs, FSCONFIG.SET_STRING, key, value, 0],
      { subject: `option ${JSON.stringify(s)} of ${q}` },
    );
  }
  b.call("fsconfig", SYS.fsconfig, [fs, FSCONFIG.CMD_CREATE, null, null, 0], {
    subject: `${JSON.stringify(type)} on ${q}`,
  });
  const mnt = b.call("fsmount", SYS.fsmount, [fs, FSMOUNT_CLOEXEC, opts.attrSet], {
    subject: `${JSON.stringify(type)} on ${q}`,
  });
  recursiveAttrs(b, mnt, opts, q);
  propagation(b, mnt, opts.propagation, opts.propagationRecursive, q);
  moveMount(b, mnt, tgt, q);
}

/**
 * A `cgroup` mount: a tmpfs holding one mount per host hierarchy. With a cgroup namespace
 * each is a fresh cgroup/cgroup2 mount (rooted at the namespace); without one, a bind of the
 * process's own cgroup directory, never the host's whole tree.
 */
export function cgroupMount(b: Builder, root: Ref, m: Mount, opts: MountOptions): void {
  const q = JSON.stringify(m.destination);
  const hierarchies = b.o.cgroupHierarchies ?? [];
  const cgroupNs = (b.spec.linux?.namespaces ?? []).some((n) => n.type === "cgroup");
  const pure2 = hierarchies.length === 1 && hierarchies[0]!.dir === "";
  const inner = { ...opts, data: [] as [string, string | undefined][] };
  if (pure2 && cgroupNs) {
    newMount(b, target(b, root, m.destination, "dir"), "cgroup2", "cgroup2", inner, q);
    return;
  }
  const tmpfsOpts = { ...opts, attrSet: opts.attrSet & ~MOUNT_ATTR.RDONLY, data: [] };
  newMount(b, target(b, root, m.destination, "dir"), "tmpfs", "tmpfs", tmpfsOpts, q);
  for (const h of hierarchies) {
    const dest = join(m.destination, h.dir);
    const hq = JSON.stringify(dest);
    const tgt = target(b, root, dest, "dir");
    if (cgroupNs) {
      const data = h.options.map((o): [string, string | undefined] => {
        const eq = o.indexOf("=");
        return eq < 0 ? [o, undefined] : [o.slice(0, eq), o.slice(eq + 1)];
      });
      newMount(b, tgt, h.type, h.type, { ...inner, data }, hq);
    } else {
      const tree = b.call("open_tree", SYS.open_tree, [
        AT_FDCWD,
        h.hostPath,
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
      ], { subject: `cgroup ${JSON.stringify(h.hostPath)} for ${hq}` });
      b.call("mount_setattr", SYS.mount_setattr, [
        tree,
        "",
        AT.EMPTY_PATH,
        mountAttr(opts.attrSet, opts.attrClr, 0),
        MOUNT_ATTR_SIZE,
      ], { subject: `options of ${hq}` });
      moveMount(b, tree, tgt, hq);
    }
  }
  if (opts.attrSet & MOUNT_ATTR.RDONLY) {
    const top = target(b, root, m.destination, "dir");
    makeReadOnly(b, top, q);
  }
}

/** Sets a mount's propagation (recursively for "rshared"...). */
export function propagation(
  b: Builder,
  fd: Ref | number,
  prop: number,
  recursive: boolean,
  q: string,
): void {
  if (prop === 0) return;
  b.call("mount_setattr", SYS.mount_setattr, [
    fd,
    "",
    AT.EMPTY_PATH | (recursive ? AT.RECURSIVE : 0),
    mountAttr(0, 0, prop),
    MOUNT_ATTR_SIZE,
  ], { subject: `propagation of ${q}` });
}

/** Attaches a detached mount onto an open target. */
export function moveMount(b: Builder, from: Ref | number, to: Ref, q: string): void {
  b.call("move_mount", SYS.move_mount, [
    from,
    "",
    to,
    "",
    MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH,
  ], { subject: `onto ${q}` });
}

/** Makes the mount behind `fd` read-only (not its submounts); `q` names it in errors. */
function makeReadOnly(b: Builder, fd: Ref, q: string): void {
  b.call("mount_setattr", SYS.mount_setattr, [
    fd,
    "",
    AT.EMPTY_PATH,
    mountAttr(MOUNT_ATTR.RDONLY, 0, 0),
    MOUNT_ATTR_SIZE,
  ], { subject: `read-only ${q}` });
}
