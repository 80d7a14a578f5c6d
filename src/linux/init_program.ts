/**
 * Builds the syscall program that turns a clone child into a container's init: namespaces,
 * rootfs and mounts (resolved inside the rootfs with openat2 and mounted on fds with the new
 * mount API), devices, pivot_root, the process's credentials and limits, the wait for `start`
 * and the execve. Pure: no system call is made here, so every decision can be unit tested and
 * printed (`runts debug plan`).
 * @module
 */
import { posix } from "node:path";
import { Blob, Program, type Ref, REPORT_FD, StrV } from "../../ffi/program.ts";
import {
  capData,
  capHeader,
  gidArray,
  ifreqFlags,
  KERNEL_SIGACTION_SIZE,
  MOUNT_ATTR_SIZE,
  mountAttr,
  OPEN_HOW_SIZE,
  openHow,
  rlimit,
  scmRightsMsg,
  u64s,
  winsize,
} from "../../ffi/structs/kernel.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";
import type { Mount, Spec } from "../oci/spec.ts";
import {
  AF_INET,
  AT,
  AT_FDCWD,
  CAPS,
  CLOSE_RANGE_CLOEXEC,
  E,
  FSCONFIG,
  FSMOUNT_CLOEXEC,
  FSOPEN_CLOEXEC,
  MNT_DETACH,
  MOUNT_ATTR,
  MOVE_MOUNT,
  MS,
  NS_FLAG,
  O,
  OPEN_TREE_CLOEXEC,
  OPEN_TREE_CLONE,
  PR,
  RESOLVE,
  RLIMIT,
  S,
  SIOCSIFFLAGS,
  SOCK_DGRAM_CLOEXEC,
} from "./consts.ts";
import type { CgroupHierarchy } from "./cgroup_mounts.ts";
import { type MountOptions, parseMountOptions, rootPropagationFlags } from "./mount_options.ts";

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
  exec?: { pidfd: number; nsFlags: number };
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
}

/** A free fd number in the child: every fd the child uses is at HIGH_FD (64) or above. */
export const SCRATCH_FD = 63;
/** seccomp(2) operation that loads a filter. */
export const SECCOMP_SET_MODE_FILTER = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const TIOCSPTLCK = 0x40045431;
const TIOCGPTPEER = 0x5441;
const TIOCSCTTY = 0x540e;
const TIOCSWINSZ = 0x5414;

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

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

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

/** Builds the init's program. */
export function buildInitProgram(o: InitOptions): InitPlan {
  return new InitBuilder(o).build();
}

class InitBuilder {
  readonly p = new Program();
  readonly o: InitOptions;
  readonly spec: Spec;
  phase = "";

  constructor(o: InitOptions) {
    this.o = o;
    this.spec = o.spec;
  }

  call(name: string, nr: number, args: Parameters<Program["call"]>[2], opts = {}): Ref {
    return this.p.call(name, nr, args, { phase: this.phase, ...opts });
  }

  build(): InitPlan {
    if (this.o.exec !== undefined) return this.buildExec(this.o.exec);
    const namespaces = this.spec.linux?.namespaces ?? [];
    const newNs = namespaces.filter((n) => !n.path).map((n) => n.type as NsType);
    const newUser = newNs.includes("user");
    // time cannot be a clone() flag (0x80 is in CSIGNAL) and cgroup is unshared after the
    // cgroup is joined; both are done by the child.
    const cloneFlags = newNs
      .filter((t) => t !== "time" && t !== "cgroup")
      .reduce((f, t) => f | NS_FLAG[t], 0);

    this.phase = "namespaces";
    this.closeRuntimeFds();
    if (newUser || this.o.waitAtStart) {
      this.call("read", SYS.read, [this.o.ctlFd, new Uint8Array(8), 1], {
        zeroFails: true,
        subject: "waiting for the cgroup and the id maps",
      });
    }
    if (newUser) {
      // Until now the child still has the parent's (unmapped) ids: become the namespace's root.
      this.call("setresgid", SYS.setresgid, [0, 0, 0], { subject: "root of the user namespace" });
      this.call("setresuid", SYS.setresuid, [0, 0, 0], { subject: "root of the user namespace" });
      // Changing ids cleared "dumpable", which makes /proc/self root-owned: set it back until
      // our /proc/self files are written.
      this.call("prctl", SYS.prctl, [PR.SET_DUMPABLE, 1, 0, 0, 0], { subject: "PR_SET_DUMPABLE" });
    }
    this.joinNamespaces();
    this.call("setsid", SYS.setsid, []);
    // /proc/self files turn root-owned once not dumpable: write ours first.
    if (newNs.includes("time")) this.newTimeNamespace();
    this.oomScoreAdj();
    this.call("prctl", SYS.prctl, [PR.SET_DUMPABLE, 0, 0, 0, 0], { subject: "PR_SET_DUMPABLE" });
    if (newNs.includes("cgroup")) {
      this.call("unshare", SYS.unshare, [NS_FLAG.cgroup], { subject: "CLONE_NEWCGROUP" });
    }
    if (newNs.includes("network")) this.loopbackUp();
    this.uts();

    if (newNs.includes("mount")) {
      this.phase = "rootfs";
      this.call("umask", SYS.umask, [0]);
      const root = this.prepareRoot();
      this.mounts(root);
      this.devices(root);
      this.cwd(root);
      if (this.o.hookSync) this.hookPoint();
      this.enterRoot(root);
      this.sysctls();
      this.maskAndReadonly();
    } else {
      this.phase = "rootfs";
      if (this.o.hookSync) this.hookPoint();
      this.call("chroot", SYS.chroot, [this.o.rootfs], { subject: JSON.stringify(this.o.rootfs) });
      this.sysctls();
    }
    if (this.o.consoleFd !== undefined) this.console(this.o.consoleFd, newNs.includes("mount"));
    if (newNs.includes("mount")) this.readonlyAtLast();

    this.phase = "process";
    this.processSetup();
    return { program: this.p, cloneFlags, newUser, newNamespaces: newNs };
  }

  /** A process joining a running container: its namespaces (rootfs included), then the same
   * process setup as an init. */
  buildExec(exec: { pidfd: number; nsFlags: number }): InitPlan {
    this.phase = "namespaces";
    this.closeRuntimeFds();
    if (this.o.waitAtStart) {
      this.call("read", SYS.read, [this.o.ctlFd, new Uint8Array(8), 1], {
        zeroFails: true,
        subject: "waiting for the cgroup",
      });
    }
    this.call("prctl", SYS.prctl, [PR.SET_DUMPABLE, 0, 0, 0, 0], { subject: "PR_SET_DUMPABLE" });
    if (exec.nsFlags !== 0) {
      this.call("setns", SYS.setns, [exec.pidfd, exec.nsFlags], {
        subject: "the container's namespaces",
      });
    }
    if (this.o.consoleFd !== undefined) {
      this.call("setsid", SYS.setsid, []);
      this.console(this.o.consoleFd, false);
    }
    this.phase = "process";
    this.processSetup();
    return { program: this.p, cloneFlags: 0, newUser: false, newNamespaces: [] };
  }

  /**
   * Closes the runtime's own fds that the clone copied (its control socket, epoll, caches...):
   * every fd the program uses was moved to HIGH_FD (64) or above, so 3..63 go at once, and
   * nothing of the runtime stays reachable while the process waits for start.
   */
  closeRuntimeFds(): void {
    this.call("close_range", SYS.close_range, [3, SCRATCH_FD, 0], {
      subject: "the runtime's fds",
    });
  }

  joinNamespaces(): void {
    const fds = this.o.nsFds ?? {};
    const order: NsType[] = ["user", "ipc", "uts", "network", "cgroup", "time", "mount"];
    for (const t of order) {
      const fd = fds[t];
      if (fd === undefined) continue;
      const path = this.spec.linux?.namespaces?.find((n) => n.type === t)?.path ?? "";
      this.call("setns", SYS.setns, [fd, NS_FLAG[t]], {
        subject: `${t} namespace ${JSON.stringify(path)}`,
      });
    }
  }

  newTimeNamespace(): void {
    this.call("unshare", SYS.unshare, [NS_FLAG.time], { subject: "CLONE_NEWTIME" });
    const offsets = this.spec.linux?.timeOffsets ?? {};
    const lines = Object.entries(offsets)
      .map(([clock, v]) => `${clock} ${v.secs ?? 0} ${v.nanosecs ?? 0}\n`)
      .join("");
    if (lines !== "") {
      const fd = this.call("openat", SYS.openat, [
        AT_FDCWD,
        "/proc/self/timens_offsets",
        O.WRONLY | O.CLOEXEC,
        0,
      ], { subject: '"/proc/self/timens_offsets"' });
      const bytes = new TextEncoder().encode(lines);
      this.call("write", SYS.write, [fd, bytes, bytes.byteLength], {
        subject: `linux.timeOffsets ${JSON.stringify(lines.trim())}`,
      });
      this.call("close", SYS.close, [fd]);
    }
    const ns = this.call("openat", SYS.openat, [
      AT_FDCWD,
      "/proc/self/ns/time_for_children",
      O.RDONLY | O.CLOEXEC,
      0,
    ], { subject: '"/proc/self/ns/time_for_children"' });
    this.call("setns", SYS.setns, [ns, NS_FLAG.time], { subject: "the new time namespace" });
  }

  loopbackUp(): void {
    const sock = this.call("socket", SYS.socket, [AF_INET, SOCK_DGRAM_CLOEXEC, 0]);
    // IFF_UP | IFF_LOOPBACK | IFF_RUNNING
    this.call("ioctl", SYS.ioctl, [sock, SIOCSIFFLAGS, ifreqFlags("lo", 0x1 | 0x8 | 0x40)], {
      subject: 'SIOCSIFFLAGS "lo" up',
    });
    this.call("close", SYS.close, [sock]);
  }

  uts(): void {
    const enc = new TextEncoder();
    const host = this.spec.hostname;
    if (host !== undefined && host !== "") {
      this.call("sethostname", SYS.sethostname, [host, enc.encode(host).byteLength], {
        subject: JSON.stringify(host),
      });
    }
    const domain = this.spec.domainname;
    if (domain !== undefined && domain !== "") {
      this.call("setdomainname", SYS.setdomainname, [domain, enc.encode(domain).byteLength], {
        subject: JSON.stringify(domain),
      });
    }
  }

  /** Makes the rootfs a mount point of its own and returns an O_PATH fd of it. */
  prepareRoot(): Ref {
    const rootfs = this.o.rootfs;
    const q = JSON.stringify(rootfs);
    const flags = rootPropagationFlags(this.spec.linux?.rootfsPropagation);
    this.call("mount", SYS.mount, [null, "/", null, BigInt(flags), null], {
      subject: '"/" propagation',
    });
    // Shared propagation (asked for, or the host's kept by a non-recursive value) on the mount
    // holding the rootfs: made private, as pivot_root needs and so that nothing mounted under
    // the rootfs reaches the host. The rootfs gets the asked propagation once it is "/".
    const parent = this.o.rootfsParent;
    const sharedAsked = (flags & MS.SHARED) !== 0;
    const recursive = (flags & MS.REC) !== 0;
    if (
      parent !== undefined &&
      (sharedAsked || (!recursive && parent.shared && parent.path !== "/"))
    ) {
      this.call("mount", SYS.mount, [null, parent.path, null, MS.PRIVATE, null], {
        subject: `${JSON.stringify(parent.path)} private (the mount holding the rootfs)`,
      });
    }
    this.call("mount", SYS.mount, [rootfs, rootfs, null, MS.BIND | MS.REC, null], {
      subject: `bind ${q} on itself`,
    });
    return this.call("openat", SYS.openat, [
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
  target(root: Ref, dest: string, kind: "dir" | "file", strict?: { fstype: string }): Ref {
    const comps = posix.normalize("/" + dest).split("/").filter((c) => c !== "" && c !== "..");
    let parent = root;
    for (let i = 0; i < comps.length; i++) {
      const rel = comps.slice(0, i + 1).join("/");
      const name = comps[i]!;
      const subject = JSON.stringify("/" + rel);
      if (i < comps.length - 1 || kind === "dir") {
        this.call("mkdirat", SYS.mkdirat, [parent, name, 0o755], { ok: [E.EEXIST], subject });
      } else {
        this.call("mknodat", SYS.mknodat, [parent, name, S.IFREG | 0o644, 0], {
          ok: [E.EEXIST],
          subject,
        });
      }
      if (strict !== undefined && i === comps.length - 1) {
        const refusal = `filesystem ${JSON.stringify(strict.fstype)} must be mounted on an ` +
          `ordinary directory: ${subject} in the rootfs is a symlink or not a directory`;
        parent = this.call("openat2", SYS.openat2, [
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
      parent = this.call("openat2", SYS.openat2, [
        root,
        rel,
        openHow(O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS),
        OPEN_HOW_SIZE,
      ], { subject });
    }
    return parent;
  }

  /** Read-only mounts with mounts or devices to come beneath them, made read-only last. */
  readonlyLater: string[] = [];

  mounts(root: Ref): void {
    const mounts = this.spec.mounts ?? [];
    mounts.forEach((m, i) => {
      const opts = parseMountOptions(m.options ?? [], m.type);
      const dest = posix.normalize(m.destination);
      const beneath = (d: string) => posix.normalize(d).startsWith(dest === "/" ? "/" : dest + "/");
      if (
        opts.attrSet & MOUNT_ATTR.RDONLY && m.type !== "cgroup" &&
        (dest === "/dev" || mounts.slice(i + 1).some((n) => beneath(n.destination)))
      ) {
        // Mounted writable, so that what comes beneath can be made; read-only at the end.
        opts.attrSet &= ~MOUNT_ATTR.RDONLY;
        this.readonlyLater.push(this.o.resolvePath?.(m.destination) ?? m.destination);
      }
      this.mount(root, m, opts, i);
    });
  }

  /** The read-only mounts put off by mounts(), once everything under them is in place. */
  readonlyAtLast(): void {
    for (const dest of this.readonlyLater) {
      const q = JSON.stringify(dest);
      const fd = this.call("openat2", SYS.openat2, [
        AT_FDCWD,
        dest,
        openHow(O.PATH | O.CLOEXEC | O.DIRECTORY, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS),
        OPEN_HOW_SIZE,
      ], { subject: q });
      this.call("mount_setattr", SYS.mount_setattr, [
        fd,
        "",
        AT.EMPTY_PATH,
        mountAttr(MOUNT_ATTR.RDONLY, 0, 0),
        MOUNT_ATTR_SIZE,
      ], { subject: `read-only ${q}` });
    }
  }

  mount(root: Ref, m: Mount, opts = parseMountOptions(m.options ?? [], m.type), index = -1): void {
    const type = m.type ?? "";
    const strict = type === "proc" || type === "sysfs";
    // proc and sysfs never follow a symlink at their destination (CVE-2019-19921).
    const dest = strict ? m.destination : this.o.resolvePath?.(m.destination) ?? m.destination;
    const q = JSON.stringify(m.destination);
    if (opts.bind) {
      const source = m.source ?? "";
      const kind = this.o.bindSources?.[source] ?? "dir";
      const tgt = this.target(root, dest, kind);
      const tree = this.o.bindSourceFds?.[index] ?? this.call("open_tree", SYS.open_tree, [
        AT_FDCWD,
        source,
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (opts.recursive ? AT.RECURSIVE : 0),
      ], { subject: `bind source ${JSON.stringify(source)} for ${q}` });
      if (opts.attrSet !== 0 || opts.attrClr !== 0) {
        this.call("mount_setattr", SYS.mount_setattr, [
          tree,
          "",
          AT.EMPTY_PATH,
          mountAttr(opts.attrSet, opts.attrClr, 0),
          MOUNT_ATTR_SIZE,
        ], { subject: `options of ${q}` });
      }
      this.recursiveAttrs(tree, opts, q);
      this.propagation(tree, opts.propagation, opts.propagationRecursive, q);
      this.moveMount(tree, tgt, q);
      return;
    }
    if (type === "cgroup") return this.cgroupMount(root, m, opts);
    const tgt = this.target(root, dest, "dir", strict ? { fstype: type } : undefined);
    this.newMount(tgt, type, m.source, opts, q);
  }

  /** "rro", "rnosuid"...: mount_setattr with AT_RECURSIVE, every submount included. */
  recursiveAttrs(fd: Ref | number, opts: MountOptions, q: string): void {
    if (opts.recAttrSet === 0 && opts.recAttrClr === 0) return;
    this.call("mount_setattr", SYS.mount_setattr, [
      fd,
      "",
      AT.EMPTY_PATH | AT.RECURSIVE,
      mountAttr(opts.recAttrSet, opts.recAttrClr, 0),
      MOUNT_ATTR_SIZE,
    ], { subject: `recursive options of ${q}` });
  }

  /** fsopen + fsconfig + fsmount + move_mount of a filesystem onto an open target. */
  newMount(tgt: Ref, type: string, source: string | undefined, opts: MountOptions, q: string) {
    const m = { source };
    const fs = this.call("fsopen", SYS.fsopen, [type, FSOPEN_CLOEXEC], {
      subject: `${JSON.stringify(type)} for ${q}`,
    });
    if (m.source !== undefined && m.source !== "") {
      this.call("fsconfig", SYS.fsconfig, [fs, FSCONFIG.SET_STRING, "source", m.source, 0], {
        subject: `source ${JSON.stringify(m.source)} of ${q}`,
      });
    }
    for (const [key, value] of opts.data) {
      const s = value === undefined ? key : `${key}=${value}`;
      this.call(
        "fsconfig",
        SYS.fsconfig,
        value === undefined
          ? [fs, FSCONFIG.SET_FLAG, key, null, 0]
          : [fs, FSCONFIG.SET_STRING, key, value, 0],
        { subject: `option ${JSON.stringify(s)} of ${q}` },
      );
    }
    this.call("fsconfig", SYS.fsconfig, [fs, FSCONFIG.CMD_CREATE, null, null, 0], {
      subject: `${JSON.stringify(type)} on ${q}`,
    });
    const mnt = this.call("fsmount", SYS.fsmount, [fs, FSMOUNT_CLOEXEC, opts.attrSet], {
      subject: `${JSON.stringify(type)} on ${q}`,
    });
    this.recursiveAttrs(mnt, opts, q);
    this.propagation(mnt, opts.propagation, opts.propagationRecursive, q);
    this.moveMount(mnt, tgt, q);
  }

  /**
   * A `cgroup` mount: a tmpfs holding one mount per host hierarchy. With a cgroup namespace
   * each is a fresh cgroup/cgroup2 mount (rooted at the namespace); without one, a bind of the
   * process's own cgroup directory, never the host's whole tree.
   */
  cgroupMount(root: Ref, m: Mount, opts: MountOptions): void {
    const q = JSON.stringify(m.destination);
    const hierarchies = this.o.cgroupHierarchies ?? [];
    const cgroupNs = (this.spec.linux?.namespaces ?? []).some((n) => n.type === "cgroup");
    const pure2 = hierarchies.length === 1 && hierarchies[0]!.dir === "";
    const inner = { ...opts, data: [] as [string, string | undefined][] };
    if (pure2 && cgroupNs) {
      this.newMount(this.target(root, m.destination, "dir"), "cgroup2", "cgroup2", inner, q);
      return;
    }
    const tmpfsOpts = { ...opts, attrSet: opts.attrSet & ~MOUNT_ATTR.RDONLY, data: [] };
    this.newMount(this.target(root, m.destination, "dir"), "tmpfs", "tmpfs", tmpfsOpts, q);
    for (const h of hierarchies) {
      const dest = posix.join(m.destination, h.dir);
      const hq = JSON.stringify(dest);
      const tgt = this.target(root, dest, "dir");
      if (cgroupNs) {
        const data = h.options.map((o): [string, string | undefined] => {
          const eq = o.indexOf("=");
          return eq < 0 ? [o, undefined] : [o.slice(0, eq), o.slice(eq + 1)];
        });
        this.newMount(tgt, h.type, h.type, { ...inner, data }, hq);
      } else {
        const tree = this.call("open_tree", SYS.open_tree, [
          AT_FDCWD,
          h.hostPath,
          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
        ], { subject: `cgroup ${JSON.stringify(h.hostPath)} for ${hq}` });
        this.call("mount_setattr", SYS.mount_setattr, [
          tree,
          "",
          AT.EMPTY_PATH,
          mountAttr(opts.attrSet, opts.attrClr, 0),
          MOUNT_ATTR_SIZE,
        ], { subject: `options of ${hq}` });
        this.moveMount(tree, tgt, hq);
      }
    }
    if (opts.attrSet & MOUNT_ATTR.RDONLY) {
      const top = this.target(root, m.destination, "dir");
      this.call("mount_setattr", SYS.mount_setattr, [
        top,
        "",
        AT.EMPTY_PATH,
        mountAttr(MOUNT_ATTR.RDONLY, 0, 0),
        MOUNT_ATTR_SIZE,
      ], { subject: `read-only ${q}` });
    }
  }

  propagation(fd: Ref | number, prop: number, recursive: boolean, q: string): void {
    if (prop === 0) return;
    this.call("mount_setattr", SYS.mount_setattr, [
      fd,
      "",
      AT.EMPTY_PATH | (recursive ? AT.RECURSIVE : 0),
      mountAttr(0, 0, prop),
      MOUNT_ATTR_SIZE,
    ], { subject: `propagation of ${q}` });
  }

  moveMount(from: Ref | number, to: Ref, q: string): void {
    this.call("move_mount", SYS.move_mount, [
      from,
      "",
      to,
      "",
      MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH,
    ], { subject: `onto ${q}` });
  }

  devices(root: Ref): void {
    const mounts = this.spec.mounts ?? [];
    const devBound = mounts.some((m) =>
      posix.normalize(m.destination) === "/dev" && parseMountOptions(m.options ?? [], m.type).bind
    );
    if (devBound) return;
    const inUserNs = (this.spec.linux?.namespaces ?? []).some((n) => n.type === "user");
    const devices = [
      ...DEFAULT_DEVICES.map((d) => ({ ...d, type: "c", fileMode: 0o666, uid: 0, gid: 0 })),
      ...(this.spec.linux?.devices ?? []).map((d) => ({
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
      const dir = this.target(root, posix.dirname(d.path), "dir");
      this.call("unlinkat", SYS.unlinkat, [dir, posix.basename(d.path), 0], {
        ok: [E.ENOENT],
        subject: `image file at ${q}`,
      });
      if (inUserNs) {
        const tgt = this.target(root, d.path, "file");
        const src = this.call("open_tree", SYS.open_tree, [
          AT_FDCWD,
          d.path,
          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
        ], { subject: `host device ${q}` });
        this.moveMount(src, tgt, q);
        continue;
      }
      const parent = dir;
      const typeBits = d.type === "b" ? S.IFBLK : d.type === "p" ? S.IFIFO : S.IFCHR;
      this.call("mknodat", SYS.mknodat, [
        parent,
        posix.basename(d.path),
        typeBits | (d.fileMode & 0o7777),
        makedev(d.major, d.minor),
      ], { subject: `device ${q}` });
      if (d.uid !== 0 || d.gid !== 0) {
        this.call("fchownat", SYS.fchownat, [
          parent,
          posix.basename(d.path),
          d.uid,
          d.gid,
          AT.SYMLINK_NOFOLLOW,
        ], { subject: `device ${q}` });
      }
    }
    const dev = this.target(root, "/dev", "dir");
    const links: [string, string][] = [
      ["fd", "/proc/self/fd"],
      ["stdin", "/proc/self/fd/0"],
      ["stdout", "/proc/self/fd/1"],
      ["stderr", "/proc/self/fd/2"],
    ];
    if (mounts.some((m) => posix.normalize(m.destination) === "/dev/pts")) {
      links.push(["ptmx", "pts/ptmx"]);
    }
    for (const [name, to] of links) {
      this.call("symlinkat", SYS.symlinkat, [to, dev, name], {
        ok: [E.EEXIST],
        subject: JSON.stringify("/dev/" + name),
      });
    }
  }

  /** A missing process.cwd is created (root-owned, 0755), as runc does. */
  cwd(root: Ref): void {
    const cwd = this.spec.process?.cwd ?? "/";
    if (posix.normalize(cwd) === "/") return;
    this.target(root, this.o.resolvePath?.(cwd) ?? cwd, "dir");
  }

  /** Tells the parent to run the create hooks, and waits until they are done. */
  hookPoint(): void {
    this.call("write", SYS.write, [REPORT_FD, u64s(0xffff_ffff_ffff_fffen, 0n), 16], {
      subject: "hooks report",
    });
    this.call("read", SYS.read, [this.o.ctlFd, new Uint8Array(8), 1], {
      zeroFails: true,
      subject: "waiting for the create hooks",
    });
  }

  enterRoot(root: Ref): void {
    this.call("fchdir", SYS.fchdir, [root], { subject: "rootfs" });
    if (this.o.noPivot) {
      this.hideHostProcSys();
      this.call("mount", SYS.mount, [this.o.rootfs, "/", null, MS.MOVE, null], {
        subject: "rootfs onto /",
      });
      this.call("chroot", SYS.chroot, ["."], { subject: "rootfs" });
    } else {
      this.call("pivot_root", SYS.pivot_root, [".", "."], { subject: "rootfs" });
      this.call("mount", SYS.mount, [null, ".", null, MS.SLAVE | MS.REC, null], {
        subject: "old root propagation",
      });
      this.call("umount2", SYS.umount2, [".", MNT_DETACH], { subject: "old root" });
    }
    this.call("chdir", SYS.chdir, ["/"]);
    const asked = this.spec.linux?.rootfsPropagation;
    if (asked !== undefined && asked !== "") {
      this.call("mount", SYS.mount, [null, "/", null, BigInt(rootPropagationFlags(asked)), null], {
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
  hideHostProcSys(): void {
    for (const path of this.o.hostProcSys ?? []) {
      const q = JSON.stringify(path);
      const next = `hidden:${path}`;
      this.call("mount", SYS.mount, [null, path, null, MS.SLAVE | MS.REC, null], {
        ok: [E.ENOENT, E.EINVAL],
        onErrGoto: next,
        subject: `host ${q} propagation`,
      });
      this.call("umount2", SYS.umount2, [path, MNT_DETACH], {
        ok: [E.EINVAL, E.EPERM],
        onOkGoto: next,
        subject: `host ${q}`,
      });
      this.call("mount", SYS.mount, ["tmpfs", path, "tmpfs", 0, null], {
        subject: `tmpfs over host ${q}`,
      });
      this.p.label(next);
    }
  }

  maskAndReadonly(): void {
    const linux = this.spec.linux ?? {};
    const how = openHow(O.PATH | O.CLOEXEC | O.NOFOLLOW, 0, RESOLVE.NO_MAGICLINKS);
    for (const path of linux.readonlyPaths ?? []) {
      const q = JSON.stringify(path);
      const end = `ro-end:${path}`;
      const tree = this.call("open_tree", SYS.open_tree, [
        AT_FDCWD,
        path,
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT.RECURSIVE,
      ], { ok: [E.ENOENT], onErrGoto: end, subject: `readonly path ${q}` });
      this.call("mount_setattr", SYS.mount_setattr, [
        tree,
        "",
        AT.EMPTY_PATH | AT.RECURSIVE,
        mountAttr(MOUNT_ATTR.RDONLY, 0, 0),
        MOUNT_ATTR_SIZE,
      ], { subject: `readonly path ${q}` });
      const tgt = this.call("openat2", SYS.openat2, [AT_FDCWD, path, how, OPEN_HOW_SIZE], {
        subject: `readonly path ${q}`,
      });
      this.moveMount(tree, tgt, q);
      this.p.label(end);
    }
    for (const path of linux.maskedPaths ?? []) {
      const q = JSON.stringify(path);
      const end = `mask-end:${path}`;
      const file = `mask-file:${path}`;
      // A directory gets a read-only tmpfs, anything else a bind of /dev/null.
      const dir = this.call("openat2", SYS.openat2, [
        AT_FDCWD,
        path,
        openHow(O.PATH | O.CLOEXEC | O.NOFOLLOW | O.DIRECTORY, 0, RESOLVE.NO_MAGICLINKS),
        OPEN_HOW_SIZE,
      ], { ok: [E.ENOENT, E.ENOTDIR], onErrGoto: file, subject: `masked path ${q}` });
      const fs = this.call("fsopen", SYS.fsopen, ["tmpfs", FSOPEN_CLOEXEC], {
        subject: `masked path ${q}`,
      });
      this.call("fsconfig", SYS.fsconfig, [fs, FSCONFIG.CMD_CREATE, null, null, 0], {
        subject: `masked path ${q}`,
      });
      const mnt = this.call("fsmount", SYS.fsmount, [fs, FSMOUNT_CLOEXEC, MOUNT_ATTR.RDONLY], {
        subject: `masked path ${q}`,
      });
      this.call("move_mount", SYS.move_mount, [
        mnt,
        "",
        dir,
        "",
        MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH,
      ], { onOkGoto: end, subject: `masked path ${q}` });
      this.p.label(file);
      const tgt = this.call("openat2", SYS.openat2, [AT_FDCWD, path, how, OPEN_HOW_SIZE], {
        ok: [E.ENOENT],
        onErrGoto: end,
        subject: `masked path ${q}`,
      });
      const devNull = this.call("open_tree", SYS.open_tree, [
        AT_FDCWD,
        "/dev/null",
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
      ], { subject: `"/dev/null" for masked path ${q}` });
      this.moveMount(devNull, tgt, q);
      this.p.label(end);
    }
    if (this.spec.root?.readonly) {
      this.call("mount_setattr", SYS.mount_setattr, [
        AT_FDCWD,
        "/",
        0,
        mountAttr(MOUNT_ATTR.RDONLY, 0, 0),
        MOUNT_ATTR_SIZE,
      ], { subject: "root.readonly" });
    }
  }

  /** The pty: made in the container's devpts, master sent to the console socket. */
  console(consoleFd: number, devConsole: boolean): void {
    this.phase = "console";
    const m = this.call("openat", SYS.openat, [
      AT_FDCWD,
      "/dev/ptmx",
      O.RDWR | O.NOCTTY | O.CLOEXEC,
      0,
    ], { subject: '"/dev/ptmx"' });
    this.call("ioctl", SYS.ioctl, [m, TIOCSPTLCK, new Uint8Array(4)], { subject: "TIOCSPTLCK" });
    const slave = this.call("ioctl", SYS.ioctl, [m, TIOCGPTPEER, O.RDWR | O.NOCTTY], {
      subject: "TIOCGPTPEER",
    });
    // The terminal belongs to the process's user; its group stays what devpts gave it (the
    // mount's gid=, the tty group), as with runc. EINVAL/EPERM: an id not mapped here.
    const uid = this.spec.process?.user?.uid ?? 0;
    if (uid !== 0) {
      this.call("fchown", SYS.fchown, [slave, uid, -1], {
        ok: [E.EINVAL, E.EPERM],
        subject: `pty to process.user.uid ${uid}`,
      });
    }
    const size = this.spec.process?.consoleSize;
    if (size !== undefined) {
      this.call("ioctl", SYS.ioctl, [slave, TIOCSWINSZ, winsize(size.height, size.width)], {
        subject: "process.consoleSize",
      });
    }
    this.call("dup2", SYS.dup2, [m, SCRATCH_FD]);
    const payload = new TextEncoder().encode("/dev/ptmx");
    this.call("sendmsg", SYS.sendmsg, [
      consoleFd,
      new Blob(96 + payload.byteLength, (addr) => scmRightsMsg(addr, SCRATCH_FD, payload)),
      0,
    ], { subject: "pty master to the console socket" });
    this.call("close", SYS.close, [SCRATCH_FD]);
    this.call("close", SYS.close, [m]);
    this.call("ioctl", SYS.ioctl, [slave, TIOCSCTTY, 0], { subject: "TIOCSCTTY" });
    if (devConsole) {
      this.call("mknodat", SYS.mknodat, [AT_FDCWD, "/dev/console", S.IFREG | 0o600, 0], {
        ok: [E.EEXIST],
        subject: '"/dev/console"',
      });
      const tgt = this.call("openat2", SYS.openat2, [
        AT_FDCWD,
        "/dev/console",
        openHow(O.PATH | O.CLOEXEC | O.NOFOLLOW, 0, RESOLVE.NO_MAGICLINKS),
        OPEN_HOW_SIZE,
      ], { subject: '"/dev/console"' });
      const tree = this.call("open_tree", SYS.open_tree, [
        slave,
        "",
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT.EMPTY_PATH,
      ], { subject: "pty slave" });
      this.moveMount(tree, tgt, '"/dev/console"');
    }
    for (let i = 0; i < 3; i++) this.call("dup2", SYS.dup2, [slave, i], { subject: `stdio ${i}` });
    this.call("close", SYS.close, [slave]);
  }

  oomScoreAdj(): void {
    const adj = this.spec.process?.oomScoreAdj;
    if (adj === undefined) return;
    const fd = this.call("openat", SYS.openat, [
      AT_FDCWD,
      "/proc/self/oom_score_adj",
      O.WRONLY | O.CLOEXEC,
      0,
    ], { subject: '"/proc/self/oom_score_adj"' });
    const b = new TextEncoder().encode(String(adj));
    this.call("write", SYS.write, [fd, b, b.byteLength], {
      subject: `process.oomScoreAdj ${adj}`,
    });
    this.call("close", SYS.close, [fd]);
  }

  /** linux.sysctl, written in the container's /proc before /proc/sys is made read-only. */
  sysctls(): void {
    const enc = new TextEncoder();
    for (const [key, value] of Object.entries(this.spec.linux?.sysctl ?? {})) {
      const path = "/proc/sys/" + key.replaceAll(".", "/");
      const fd = this.call("openat", SYS.openat, [AT_FDCWD, path, O.WRONLY | O.CLOEXEC, 0], {
        subject: `sysctl ${JSON.stringify(key)}`,
      });
      const b = enc.encode(value);
      this.call("write", SYS.write, [fd, b, b.byteLength], {
        subject: `sysctl ${JSON.stringify(key)} = ${JSON.stringify(value)}`,
      });
      this.call("close", SYS.close, [fd]);
    }
  }

  processSetup(): void {
    const proc = this.spec.process;
    if (proc === undefined) throw new Error("process: required to create a container");
    for (const r of proc.rlimits ?? []) {
      const res = RLIMIT[r.type];
      if (res === undefined) throw new Error(`process.rlimits: unknown type "${r.type}"`);
      const v = (x: number) => (x < 0 || x >= 2 ** 64 - 1 ? RLIM_INFINITY : BigInt(x));
      this.call("prlimit64", SYS.prlimit64, [0, res, rlimit(v(r.soft), v(r.hard)), null], {
        subject: `${r.type} ${r.soft}:${r.hard}`,
      });
    }
    const pers = this.spec.linux?.personality;
    if (pers !== undefined) {
      const domain = { LINUX: 0x0000, LINUX32: 0x0008 }[pers.domain as "LINUX" | "LINUX32"];
      if (domain === undefined) {
        throw new Error(`linux.personality.domain: unknown domain ${JSON.stringify(pers.domain)}`);
      }
      this.call("personality", SYS.personality, [domain], {
        subject: `linux.personality ${pers.domain}`,
      });
    }
    const cwd = proc.cwd ?? "/";
    this.call("chdir", SYS.chdir, [cwd], { subject: `process.cwd ${JSON.stringify(cwd)}` });
    this.stdio();
    this.closeOnExec();
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the
    // capabilities are dropped (runc's order); with it, as the very last step.
    //
    // The filter is the container's, written for its program, not for runts: every call runts
    // makes after loading it must work under a profile that does not know it. With the early
    // filter those calls are: prctl(PR_CAPBSET_DROP, PR_SET_KEEPCAPS, PR_CAP_AMBIENT,
    // PR_SET_NO_NEW_PRIVS), setgroups, setresgid, setresuid, capset (the credentials: a
    // profile that denies them cannot run a container at all, as with runc), umask,
    // rt_sigaction, rt_sigprocmask, faccessat (the executable check), write (the ready and
    // error reports) and read (the wait for start) on pipes, openat/write/close of the LSM
    // exec label, the listener hand-over (dup2, write, read, close) and execve/execveat. Both
    // filters: dup2/write/read/close of the listener hand-over, then faccessat and the execve.
    // close_range, which older profiles do not know (EPERM) and old kernels lack (ENOSYS), is
    // done above, before any filter, and falls back to fcntl when refused anyway.
    const earlySeccomp = this.o.seccomp !== undefined && !proc.noNewPrivileges;
    if (earlySeccomp) this.loadSeccomp(this.o.seccomp!);
    this.credentials();
    if (proc.noNewPrivileges) {
      this.call("prctl", SYS.prctl, [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0], {
        subject: "PR_SET_NO_NEW_PRIVS",
      });
    }
    this.call("umask", SYS.umask, [proc.user?.umask ?? 0o022]);
    for (const sig of this.o.ignoredSignals ?? []) {
      this.call("rt_sigaction", SYS.rt_sigaction, [
        sig,
        new Uint8Array(KERNEL_SIGACTION_SIZE),
        null,
        8,
      ], { subject: `signal ${sig} to SIG_DFL` });
    }
    this.call("rt_sigprocmask", SYS.rt_sigprocmask, [2, /* SIG_SETMASK */ u64s(0n), null, 8]);

    const env = proc.env ?? [];
    const candidates = executableCandidates(proc.args?.[0] ?? "", env);
    this.exeCheck(candidates, proc.args?.[0] ?? "");
    this.call("write", SYS.write, [REPORT_FD, u64s(0xffff_ffff_ffff_ffffn, 0n), 16], {
      subject: "ready report",
    });
    if (!this.o.startImmediately) {
      this.call("read", SYS.read, [this.o.ctlFd, new Uint8Array(8), 1], {
        zeroFails: true,
        subject: "waiting for start",
      });
    }
    if (this.o.execLabel !== undefined) {
      const { file, value } = this.o.execLabel;
      const fd = this.call("openat", SYS.openat, [AT_FDCWD, file, O.WRONLY | O.CLOEXEC, 0], {
        subject: JSON.stringify(file),
      });
      const b = new TextEncoder().encode(value);
      this.call("write", SYS.write, [fd, b, b.byteLength], {
        subject: `LSM label ${JSON.stringify(value)}`,
      });
      this.call("close", SYS.close, [fd]);
    }
    const envp = new StrV(env);
    const args = proc.args ?? [];
    const messages = execMessages(args[0] ?? "");
    if (this.o.execStubFd === undefined) {
      if (this.o.seccomp !== undefined && !earlySeccomp) this.loadSeccomp(this.o.seccomp);
      this.phase = "exec";
      candidates.forEach((c, i) => {
        const last = i === candidates.length - 1;
        this.call("execve", SYS.execve, [c, new StrV(args), envp], {
          ...(last ? {} : { ok: [E.ENOENT, E.EACCES] }),
          subject: JSON.stringify(c),
          messages,
        });
      });
      return;
    }
    const hasProc = (this.spec.mounts ?? []).some((m) =>
      m.type === "proc" && posix.normalize(m.destination) === "/proc"
    );
    // Through the exec stub: the candidate is chosen first (seccomp may deny faccessat), then
    // the filter is loaded and the stub runs it, so the runtime's binary is never this
    // process's executable when the container's program starts.
    candidates.forEach((c, i) => {
      const last = i === candidates.length - 1;
      const next = `exec-candidate-${i + 1}`;
      this.phase = "exec";
      this.call("faccessat", SYS.faccessat, [AT_FDCWD, c, 1 /* X_OK */], {
        ...(last ? {} : { ok: [E.ENOENT, E.EACCES], onErrGoto: next }),
        subject: JSON.stringify(c),
        messages,
      });
      if (this.o.seccomp !== undefined && !earlySeccomp) this.loadSeccomp(this.o.seccomp);
      this.phase = "exec";
      // execve of /proc/self/fd/N where the container has a /proc (seccomp profiles allow
      // execve; not all allow execveat), else execveat of the fd.
      const stub = this.o.execStubFd!;
      const subject = `${JSON.stringify(c)} through the exec stub`;
      if (hasProc) {
        this.call("execve", SYS.execve, [`/proc/self/fd/${stub}`, new StrV([c, ...args]), envp], {
          subject,
          messages,
        });
      } else {
        this.call("execveat", SYS.execveat, [
          stub,
          "",
          new StrV([c, ...args]),
          envp,
          AT.EMPTY_PATH,
        ], { subject, messages });
      }
      if (!last) this.p.label(next);
    });
  }

  /**
   * Marks every fd above stdio and the preserved ones close-on-exec. close_range is refused
   * where a seccomp filter the runtime runs under predates it (EPERM) or the kernel lacks it
   * (ENOSYS): then each fd this program holds is marked with fcntl instead (the fds it opens
   * itself are opened close-on-exec).
   */
  closeOnExec(): void {
    const done = "cloexec-done";
    this.call("close_range", SYS.close_range, [
      3 + (this.o.preserveFds?.length ?? 0),
      0xffffffff,
      CLOSE_RANGE_CLOEXEC,
    ], { ok: [E.EPERM, E.ENOSYS], onOkGoto: done, subject: "the runtime's fds (close-on-exec)" });
    const held = new Set<number>([
      this.o.ctlFd,
      ...Object.values(this.o.nsFds ?? {}),
      ...this.o.stdio,
      ...(this.o.preserveFds ?? []),
      ...(this.o.consoleFd !== undefined ? [this.o.consoleFd] : []),
      ...(this.o.exec !== undefined ? [this.o.exec.pidfd] : []),
      ...(this.o.execStubFd !== undefined ? [this.o.execStubFd] : []),
    ]);
    const first = 3 + (this.o.preserveFds?.length ?? 0);
    for (const fd of [...held].filter((fd) => fd >= first).sort((a, b) => a - b)) {
      this.call("fcntl", SYS.fcntl, [fd, F_SETFD, FD_CLOEXEC], {
        ok: [E.EBADF],
        subject: `fd ${fd} (close-on-exec)`,
      });
    }
    this.p.label(done);
  }

  /** seccomp(SECCOMP_SET_MODE_FILTER): the last step before execve, which it must allow. */
  loadSeccomp(sc: { filter: Uint8Array; flags: number; notify?: boolean }): void {
    const filter = sc.filter;
    const prog = filterProg(filter);
    const listener = this.call("seccomp", SYS.seccomp, [SECCOMP_SET_MODE_FILTER, sc.flags, prog], {
      subject: `linux.seccomp (${filter.byteLength / 8} instructions)`,
    });
    if (!sc.notify) return;
    // The listener fd goes to the parent (pidfd_getfd of SCRATCH_FD), which sends it on to
    // linux.seccomp.listenerPath; these few calls must be allowed by the filter (runc's rule).
    this.call("dup2", SYS.dup2, [listener, SCRATCH_FD], { subject: "seccomp listener" });
    this.call("write", SYS.write, [REPORT_FD, u64s(0xffff_ffff_ffff_fffdn, 0n), 16], {
      subject: "seccomp listener report",
    });
    this.call("read", SYS.read, [this.o.ctlFd, new Uint8Array(8), 1], {
      zeroFails: true,
      subject: "waiting for the seccomp listener to be taken",
    });
    this.call("close", SYS.close, [SCRATCH_FD]);
    this.call("close", SYS.close, [listener]);
  }

  credentials(): void {
    const proc = this.spec.process!;
    const user = proc.user ?? { uid: 0, gid: 0 };
    const caps = proc.capabilities;
    const last = this.o.lastCap ?? CAPS.length - 1;
    const mask = (names: string[] | undefined) =>
      (names ?? []).reduce((m, n) => {
        const i = CAPS.indexOf(n);
        return i < 0 || i > last ? m : m | (1n << BigInt(i));
      }, 0n);
    if (caps !== undefined) {
      const bounding = mask(caps.bounding);
      for (let i = 0; i <= last; i++) {
        if (bounding & (1n << BigInt(i))) continue;
        this.call("prctl", SYS.prctl, [PR.CAPBSET_DROP, i, 0, 0, 0], {
          ok: [E.EINVAL],
          subject: `PR_CAPBSET_DROP ${CAPS[i]}`,
        });
      }
      this.call("prctl", SYS.prctl, [PR.SET_KEEPCAPS, 1, 0, 0, 0], { subject: "PR_SET_KEEPCAPS" });
    }
    const gids = user.additionalGids ?? [];
    this.call("setgroups", SYS.setgroups, [gids.length, gidArray(gids)], {
      subject: `process.user.additionalGids ${JSON.stringify(gids)}`,
    });
    this.call("setresgid", SYS.setresgid, [user.gid, user.gid, user.gid], {
      subject: `process.user.gid ${user.gid}`,
    });
    this.call("setresuid", SYS.setresuid, [user.uid, user.uid, user.uid], {
      subject: `process.user.uid ${user.uid}`,
    });
    if (caps !== undefined) {
      this.call("prctl", SYS.prctl, [PR.SET_KEEPCAPS, 0, 0, 0, 0], { subject: "PR_SET_KEEPCAPS" });
      this.call("capset", SYS.capset, [
        capHeader(),
        capData(mask(caps.effective), mask(caps.permitted), mask(caps.inheritable)),
      ], { subject: "process.capabilities" });
      const ambient = caps.ambient ?? [];
      for (const name of ambient) {
        const i = CAPS.indexOf(name);
        if (i < 0 || i > last) continue;
        // Raising fails (EPERM) unless the capability is also inheritable: ignored, as runc.
        this.call("prctl", SYS.prctl, [PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, i, 0, 0], {
          ok: [E.EPERM],
          subject: `ambient ${name}`,
        });
      }
    }
  }

  /** Fails at create time, not start, when the executable does not exist. */
  exeCheck(candidates: string[], arg0: string): void {
    const found = "exe-found";
    candidates.forEach((c, i) => {
      const last = i === candidates.length - 1;
      this.call("faccessat", SYS.faccessat, [AT_FDCWD, c, 1 /* X_OK */], {
        ...(last ? {} : { ok: [E.ENOENT, E.EACCES] }),
        onOkGoto: found,
        subject: JSON.stringify(c),
        messages: execMessages(arg0),
      });
    });
    this.p.label(found);
  }

  stdio(): void {
    if (this.o.consoleFd === undefined) {
      this.o.stdio.forEach((fd, i) => {
        if (fd !== i) this.call("dup2", SYS.dup2, [fd, i], { subject: `stdio ${i}` });
      });
    }
    (this.o.preserveFds ?? []).forEach((fd, i) => {
      if (fd !== 3 + i) this.call("dup2", SYS.dup2, [fd, 3 + i], { subject: `preserved fd ${i}` });
    });
  }
}

/** A struct sock_fprog with its filter, as seccomp(SECCOMP_SET_MODE_FILTER) takes it. */
export function filterProg(filter: Uint8Array): Blob {
  return new Blob(16 + filter.byteLength, (addr) => {
    const b = new Uint8Array(16 + filter.byteLength);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, filter.byteLength / 8, true);
    dv.setBigUint64(8, addr + 16n, true);
    b.set(filter, 16);
    return b;
  });
}

/** The paths execve tries for args[0], in order (execvp's rules, with the process's PATH). */
export function executableCandidates(arg0: string, env: readonly string[]): string[] {
  if (arg0 === "") return [""];
  if (arg0.includes("/")) return [arg0];
  const pathVar = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  const dirs = pathVar.split(":").filter((d) => d !== "");
  return (dirs.length ? dirs : ["/usr/bin"]).map((d) => posix.join(d, arg0));
}

function execMessages(arg0: string): Record<number, string> {
  const q = JSON.stringify(arg0);
  return arg0.includes("/")
    ? {
      [E.ENOENT]: `exec: ${q}: no such file or directory`,
      [E.EACCES]: `exec: ${q}: permission denied`,
    }
    : {
      [E.ENOENT]: `exec: ${q}: executable file not found in $PATH`,
      [E.EACCES]: `exec: ${q}: permission denied`,
    };
}
