/**
 * The rootfs as the container's "/": made a mount of its own (propagation, a shared parent
 * made private), targets created and opened inside it with openat2(RESOLVE_IN_ROOT), the
 * create hooks' pause, then pivot_root (or, with noPivot, MS_MOVE + chroot with the host's
 * proc and sysfs hidden).
 * @module
 */
import { normalize } from "../../path.ts";
import { type Ref, REPORT_FD } from "../../../ffi/program.ts";
import { OPEN_HOW_SIZE, openHow, u64s } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import { AT_FDCWD, E, MNT_DETACH, MS, O, RESOLVE, S } from "../consts.ts";
import { rootPropagationFlags } from "../mount_options.ts";
import type { Builder } from "./builder.ts";

/** Makes the rootfs a mount point of its own and returns an O_PATH fd of it. */
export function prepareRoot(b: Builder): Ref {
  const rootfs = b.o.rootfs;
  const q = JSON.stringify(rootfs);
  const flags = rootPropagationFlags(b.spec.linux?.rootfsPropagation);
  b.call("mount", SYS.mount, [null, "/", null, BigInt(flags), null], {
    subject: '"/" propagation',
  });
  // Shared propagation (asked for, or the host's kept by a non-recursive value) on the mount
  // holding the rootfs: made private, as pivot_root needs and so that nothing mounted under
  // the rootfs reaches the host. The rootfs gets the asked propagation once it is "/".
  const parent = b.o.rootfsParent;
  const sharedAsked = (flags & MS.SHARED) !== 0;
  const recursive = (flags & MS.REC) !== 0;
  if (
    parent !== undefined &&
    (sharedAsked || (!recursive && parent.shared && parent.path !== "/"))
  ) {
    b.call("mount", SYS.mount, [null, parent.path, null, MS.PRIVATE, null], {
      subject: `${JSON.stringify(parent.path)} private (the mount holding the rootfs)`,
    });
  }
  b.call("mount", SYS.mount, [rootfs, rootfs, null, MS.BIND | MS.REC, null], {
    subject: `bind ${q} on itself`,
  });
  return b.call("openat", SYS.openat, [
    AT_FDCWD,
    rootfs,
    O.PATH | O.DIRECTORY | O.CLOEXEC,
    0,
  ], { subject: `rootfs ${q}` });
}

/**
 * Creates `dest` inside the root if missing (a directory, or a file) and opens it. `strict`
 * (proc and sysfs): the destination must be a directory, reached without any symlink.
 */
export function target(
  b: Builder,
  root: Ref,
  dest: string,
  kind: "dir" | "file",
  strict?: { fstype: string },
): Ref {
  const comps = normalize("/" + dest).split("/").filter((c) => c !== "" && c !== "..");
  let parent = root;
  for (let i = 0; i < comps.length; i++) {
    const rel = comps.slice(0, i + 1).join("/");
    const name = comps[i]!;
    const subject = JSON.stringify("/" + rel);
    if (i < comps.length - 1 || kind === "dir") {
      b.call("mkdirat", SYS.mkdirat, [parent, name, 0o755], { ok: [E.EEXIST], subject });
    } else {
      b.call("mknodat", SYS.mknodat, [parent, name, S.IFREG | 0o644, 0], {
        ok: [E.EEXIST],
        subject,
      });
    }
    if (strict !== undefined && i === comps.length - 1) {
      const refusal = `filesystem ${JSON.stringify(strict.fstype)} must be mounted on an ` +
        `ordinary directory: ${subject} in the rootfs is a symlink or not a directory`;
      parent = b.call("openat2", SYS.openat2, [
        root,
        rel,
        openHow(
          O.PATH | O.CLOEXEC | O.DIRECTORY | O.NOFOLLOW,
          0,
          RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_SYMLINKS,
        ),
        OPEN_HOW_SIZE,
      ], { subject, messages: { [E.ELOOP]: refusal, [E.ENOTDIR]: refusal } });
      continue;
    }
    parent = b.call("openat2", SYS.openat2, [
      root,
      rel,
      openHow(O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS),
      OPEN_HOW_SIZE,
    ], { subject });
  }
  return parent;
}

/** A missing process.cwd is created (root-owned, 0755), as runc does. */
export function makeCwd(b: Builder, root: Ref): void {
  const cwd = b.spec.process?.cwd ?? "/";
  if (normalize(cwd) === "/") return;
  target(b, root, b.o.resolvePath?.(cwd) ?? cwd, "dir");
}

/** Tells the parent to run the create hooks, and waits until they are done. */
export function hookPoint(b: Builder): void {
  b.call("write", SYS.write, [REPORT_FD, u64s(0xffff_ffff_ffff_fffen, 0n), 16], {
    subject: "hooks report",
  });
  b.call("read", SYS.read, [b.o.ctlFd, new Uint8Array(8), 1], {
    zeroFails: true,
    subject: "waiting for the create hooks",
  });
}

/** pivot_root into the rootfs and detach the old root (noPivot: MS_MOVE + chroot). */
export function enterRoot(b: Builder, root: Ref): void {
  b.call("fchdir", SYS.fchdir, [root], { subject: "rootfs" });
  if (b.o.noPivot) {
    hideHostProcSys(b);
    b.call("mount", SYS.mount, [b.o.rootfs, "/", null, MS.MOVE, null], {
      subject: "rootfs onto /",
    });
    b.call("chroot", SYS.chroot, ["."], { subject: "rootfs" });
  } else {
    b.call("pivot_root", SYS.pivot_root, [".", "."], { subject: "rootfs" });
    b.call("mount", SYS.mount, [null, ".", null, MS.SLAVE | MS.REC, null], {
      subject: "old root propagation",
    });
    b.call("umount2", SYS.umount2, [".", MNT_DETACH], { subject: "old root" });
  }
  b.call("chdir", SYS.chdir, ["/"]);
  const asked = b.spec.linux?.rootfsPropagation;
  if (asked !== undefined && asked !== "") {
    b.call("mount", SYS.mount, [null, "/", null, BigInt(rootPropagationFlags(asked)), null], {
      subject: `linux.rootfsPropagation ${JSON.stringify(asked)}`,
    });
  }
}

/**
 * The host's proc and sysfs mounts (outside the rootfs) are unmounted from the container's
 * mount namespace before the chroot of noPivot, or covered with an empty tmpfs where they
 * cannot be: while one is visible the kernel allows a fresh proc/sysfs mount, which would
 * undo maskedPaths.
 */
export function hideHostProcSys(b: Builder): void {
  for (const path of b.o.hostProcSys ?? []) {
    const q = JSON.stringify(path);
    const next = `hidden:${path}`;
    b.call("mount", SYS.mount, [null, path, null, MS.SLAVE | MS.REC, null], {
      ok: [E.ENOENT, E.EINVAL],
      onErrGoto: next,
      subject: `host ${q} propagation`,
    });
    b.call("umount2", SYS.umount2, [path, MNT_DETACH], {
      ok: [E.EINVAL, E.EPERM],
      onOkGoto: next,
      subject: `host ${q}`,
    });
    b.call("mount", SYS.mount, ["tmpfs", path, "tmpfs", 0, null], {
      subject: `tmpfs over host ${q}`,
    });
    b.p.label(next);
  }
}
