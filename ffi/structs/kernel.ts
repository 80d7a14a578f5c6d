/**
 * Small kernel structs passed by pointer in syscall programs, encoded to bytes. Layouts are the
 * same on x86_64 and aarch64 (all fields are fixed-width).
 * @module
 */

/** struct open_how { u64 flags; u64 mode; u64 resolve; } */
export const OPEN_HOW_SIZE = 24;
/** Encodes a struct open_how. */
export function openHow(flags: number, mode: number, resolve: number): Uint8Array {
  const b = new Uint8Array(OPEN_HOW_SIZE);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(flags), true);
  dv.setBigUint64(8, BigInt(mode), true);
  dv.setBigUint64(16, BigInt(resolve), true);
  return b;
}

/** struct mount_attr { u64 attr_set; u64 attr_clr; u64 propagation; u64 userns_fd; } */
export const MOUNT_ATTR_SIZE = 32;
/** Encodes a struct mount_attr. */
export function mountAttr(set: number, clr: number, propagation: number, usernsFd = 0): Uint8Array {
  const b = new Uint8Array(MOUNT_ATTR_SIZE);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(set), true);
  dv.setBigUint64(8, BigInt(clr), true);
  dv.setBigUint64(16, BigInt(propagation), true);
  dv.setBigUint64(24, BigInt(usernsFd), true);
  return b;
}

/** struct rlimit64 { u64 rlim_cur; u64 rlim_max; } */
export const RLIMIT_SIZE = 16;
/** Encodes a struct rlimit64 (values are clamped to u64; RLIM_INFINITY is 2^64-1). */
export function rlimit(cur: bigint, max: bigint): Uint8Array {
  const b = new Uint8Array(RLIMIT_SIZE);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt.asUintN(64, cur), true);
  dv.setBigUint64(8, BigInt.asUintN(64, max), true);
  return b;
}

/** struct ifreq: 16-byte name then a 24-byte union; ifr_flags is a short at offset 16. */
export const IFREQ_SIZE = 40;
/** Encodes a struct ifreq carrying interface flags. */
export function ifreqFlags(name: string, flags: number): Uint8Array {
  const b = new Uint8Array(IFREQ_SIZE);
  b.set(new TextEncoder().encode(name).subarray(0, 15));
  new DataView(b.buffer).setInt16(16, flags, true);
  return b;
}

/** struct __user_cap_header_struct { u32 version; int pid; } (version 3). */
export const CAP_HEADER_SIZE = 8;
/** _LINUX_CAPABILITY_VERSION_3 */
export const CAP_VERSION_3 = 0x20080522;
/** Encodes a capability header for capset(2). */
export function capHeader(pid = 0): Uint8Array {
  const b = new Uint8Array(CAP_HEADER_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, CAP_VERSION_3, true);
  dv.setInt32(4, pid, true);
  return b;
}

/** Two struct __user_cap_data_struct { u32 effective, permitted, inheritable; } (24 bytes). */
export const CAP_DATA_SIZE = 24;
/** Encodes capability sets (bit masks of 64 bits) for capset(2). */
export function capData(effective: bigint, permitted: bigint, inheritable: bigint): Uint8Array {
  const b = new Uint8Array(CAP_DATA_SIZE);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 2; i++) {
    const shift = BigInt(32 * i);
    dv.setUint32(12 * i, Number((effective >> shift) & 0xffffffffn), true);
    dv.setUint32(12 * i + 4, Number((permitted >> shift) & 0xffffffffn), true);
    dv.setUint32(12 * i + 8, Number((inheritable >> shift) & 0xffffffffn), true);
  }
  return b;
}

/** struct kernel_sigaction { handler; flags; restorer; mask } — all zero is SIG_DFL. */
export const KERNEL_SIGACTION_SIZE = 32;

/** An array of gid_t (u32) for setgroups(2). */
export function gidArray(gids: readonly number[]): Uint8Array {
  const b = new Uint8Array(Math.max(4 * gids.length, 4));
  const dv = new DataView(b.buffer);
  gids.forEach((g, i) => dv.setUint32(4 * i, g, true));
  return b;
}

/** An unsigned 64-bit value in memory (for report markers and sigset_t). */
export function u64s(...values: bigint[]): Uint8Array {
  const b = new Uint8Array(8 * values.length);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setBigUint64(8 * i, BigInt.asUintN(64, v), true));
  return b;
}

/**
 * A struct msghdr carrying one fd (SCM_RIGHTS) and a payload, with its iovec and control buffer
 * laid out after it, for a program that lives at `addr`. Layout: msghdr (56), iovec (16),
 * cmsghdr + int (CMSG_SPACE(4) = 24), payload.
 */
export function scmRightsMsg(addr: bigint, fd: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(96 + payload.byteLength);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(16, addr + 56n, true); // msg_iov
  dv.setBigUint64(24, 1n, true); // msg_iovlen
  dv.setBigUint64(32, addr + 72n, true); // msg_control
  dv.setBigUint64(40, 24n, true); // msg_controllen
  dv.setBigUint64(56, addr + 96n, true); // iov_base
  dv.setBigUint64(64, BigInt(payload.byteLength), true); // iov_len
  dv.setBigUint64(72, 20n, true); // cmsg_len = CMSG_LEN(sizeof(int))
  dv.setInt32(80, 1, true); // SOL_SOCKET
  dv.setInt32(84, 1, true); // SCM_RIGHTS
  dv.setInt32(88, fd, true);
  b.set(payload, 96);
  return b;
}

/** struct winsize { u16 rows, cols, xpixel, ypixel } */
export function winsize(rows: number, cols: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, rows, true);
  dv.setUint16(2, cols, true);
  return b;
}
