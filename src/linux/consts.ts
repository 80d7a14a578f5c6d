/**
 * Linux constants used to build syscall programs (x86_64 values; the generic ones are shared
 * with aarch64).
 * @module
 */
import { ALL_CAPABILITIES } from "../oci/capabilities.ts";

/** openat(2) flags. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** The "current directory" fd. */
export const AT_FDCWD = -100;
/** AT_* flags. */
export const AT = {
  SYMLINK_NOFOLLOW: 0x100,
  EMPTY_PATH: 0x1000,
  RECURSIVE: 0x8000,
} as const;

/** openat2 resolve flags. */
export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
} as const;

/** mount(2) flags. */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

/** mount_setattr / fsmount attribute flags. */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  ATIME_MASK: 0x70,
  NODIRATIME: 0x80,
  IDMAP: 0x100000,
  NOSYMFOLLOW: 0x200000,
} as const;

/** open_tree / move_mount / fsopen / fsconfig / fsmount constants. */
export const OPEN_TREE_CLONE = 1;
/** open_tree: the fd is close-on-exec. */
export const OPEN_TREE_CLOEXEC = O.CLOEXEC;
/** move_mount flags. */
export const MOVE_MOUNT = { F_EMPTY_PATH: 0x4, T_EMPTY_PATH: 0x40 } as const;
/** fsopen flags. */
export const FSOPEN_CLOEXEC = 1;
/** fsmount flags. */
export const FSMOUNT_CLOEXEC = 1;
/** fsconfig commands. */
export const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, CMD_CREATE: 6 } as const;
/** umount2 flags. */
export const MNT_DETACH = 2;

/** prctl options. */
export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  CAPBSET_DROP: 24,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

/** Namespace clone flags by OCI namespace type. */
export const NS_FLAG = {
  mount: 0x00020000,
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  time: 0x00000080,
} as const;

/** File type bits. */
export const S = { IFCHR: 0o020000, IFBLK: 0o060000, IFIFO: 0o010000, IFREG: 0o100000 } as const;

/** close_range flags. */
export const CLOSE_RANGE_CLOEXEC = 4;

/** Socket constants for bringing loopback up. */
export const AF_INET = 2;
/** SOCK_DGRAM | SOCK_CLOEXEC. */
export const SOCK_DGRAM_CLOEXEC = 2 | O.CLOEXEC;
/** ioctl: set interface flags. */
export const SIOCSIFFLAGS = 0x8914;

/** errno numbers used when building programs. */
export const E = {
  EPERM: 1,
  ENOENT: 2,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENOTDIR: 20,
  EINVAL: 22,
  ENOSYS: 38,
  ELOOP: 40,
} as const;

/** Capability names by number (CAP_CHOWN = 0 ...): the one list, kept with the features. */
export const CAPS: readonly string[] = ALL_CAPABILITIES;

/** RLIMIT_* resource numbers. */
export const RLIMIT: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};
