/**
 * What the init program is built from, and what building it gives.
 * @module
 */
import { Program } from "../../../ffi/program.ts";
import type { Spec } from "../../oci/spec.ts";
import { NS_FLAG } from "../consts.ts";
import type { CgroupHierarchy } from "../cgroup_mounts.ts";

/** An OCI namespace type. */
export type NsType = keyof typeof NS_FLAG;

/** What the program is built from. */
export interface InitOptions {
  /** The validated spec. */
  spec: Spec;
  /** Absolute host path of the rootfs. */
  rootfs: string;
  /** The fds (in the parent) that become the process's stdin, stdout, stderr. */
  stdio: [number, number, number];
  /** Parent fds that become 3, 4, ... (`--preserve-fds`). */
  preserveFds?: number[];
  /** Read end of the control pipe: one byte after the id maps, one byte at start. */
  ctlFd: number;
  /** Namespaces to join, opened by the parent (pid is joined by the parent itself). */
  nsFds?: Partial<Record<NsType, number>>;
  /** Use chroot instead of pivot_root (`--no-pivot`). */
  noPivot?: boolean;
  /** What each bind mount source is on the host. */
  bindSources?: Record<string, "file" | "dir">;
  /** Signals ignored in the parent (they would survive execve). */
  ignoredSignals?: number[];
  /** The init should not wait for `start` (run). */
  startImmediately?: boolean;
  /** The host's cgroup hierarchies, for `cgroup` mounts. */
  cgroupHierarchies?: CgroupHierarchy[];
  /**
   * A connected console socket (process.terminal): a pty is made in the container's devpts,
   * its master sent there (SCM_RIGHTS), its slave becomes stdio, controlling tty and
   * /dev/console.
   */
  consoleFd?: number;
  /**
   * An exec into a running container instead of an init: join the namespaces of the process
   * behind `pidfd` (setns with a pidfd, all at once) and skip namespace and rootfs setup.
   */
  exec?: ExecJoin;
  /**
   * Stop after mounts, before pivot_root, report HOOKS_INDEX and wait for a byte on ctlFd
   * (prestart, createRuntime and createContainer hooks run meanwhile).
   */
  hookSync?: boolean;
  /** A compiled seccomp filter (sock_filter array) and its seccomp(2) flags, loaded last. */
  seccomp?: { filter: Uint8Array; flags: number; notify?: boolean };
  /**
   * Resolves a path inside the rootfs as the kernel would (symlinks followed within it), so
   * that missing directories are created where a symlinked target really points. The child
   * still opens every target with RESOLVE_IN_ROOT.
   */
  resolvePath?: (path: string) => string;
  /**
   * The first step waits for a byte on ctlFd: the parent puts the child in its cgroup (and
   * writes the id maps of a new user namespace) before it goes on.
   */
  waitAtStart?: boolean;
  /**
   * The LSM label the process gets at execve, written to /proc/self/attr/exec (AppArmor:
   * `exec <profile>`; SELinux: the label). Set only where the host has that LSM.
   */
  execLabel?: { file: string; value: string };
  /**
   * A sealed memfd with the exec stub (ffi/memory.ts execStubFd): the program is executed
   * through it, never straight from this (the runtime's) image.
   */
  execStubFd?: number;
  /**
   * The host mount that holds the rootfs, and whether it is shared: a shared parent is made
   * private in the container's mount namespace before the rootfs is bound on itself (or the
   * bind would propagate out, and pivot_root refuses a shared parent).
   */
  rootfsParent?: { path: string; shared: boolean };
  /**
   * Whole proc and sysfs mounts of the host outside the rootfs. With noPivot they stay in the
   * container's mount namespace under the chroot, and the kernel lets a process with
   * CAP_SYS_ADMIN mount a fresh proc over the masked one while they are visible: they are
   * unmounted (or covered) first.
   */
  hostProcSys?: string[];
  /** The kernel's highest capability number: capabilities above it are left out. */
  lastCap?: number;
  /**
   * Bind sources already opened by the parent (open_tree clones, by index in spec.mounts): in
   * a new user namespace the child may no longer reach a source the host's root can.
   */
  bindSourceFds?: Record<number, number>;
  /**
   * /proc/<pid>/setgroups of the user namespace may be "deny" (a rootless map of the caller's
   * own gid): clearing the supplementary groups is then refused with EPERM, and there are none
   * to clear (an unprivileged user namespace starts with none it can change).
   */
  setgroupsDenied?: boolean;
  /**
   * The runtime itself runs in a user namespace (rootless podman): device nodes cannot be made
   * there, so the host's devices are bound, as with a user namespace of the container's own.
   */
  bindDevices?: boolean;
}

/** How an exec'd process joins a running container. */
export interface ExecJoin {
  /** A pidfd of the container's init. */
  pidfd: number;
  /** The namespaces to join (setns with the pidfd, all at once). */
  nsFlags: number;
  /**
   * Join the pid namespace in the child and fork into it (a caller that may not join it
   * itself: rootless).
   */
  forkIntoPidNs?: boolean;
}

/** A free fd number in the child: every fd the child uses is at HIGH_FD (64) or above. */
export const SCRATCH_FD = 63;

/** A built program and how to clone for it. */
export interface InitPlan {
  /** The steps. */
  program: Program;
  /** Namespace flags for clone(2). */
  cloneFlags: number;
  /** A new user namespace: the parent writes the id maps, then releases the child. */
  newUser: boolean;
  /** Namespaces that are created new. */
  newNamespaces: NsType[];
}
