/**
 * The structs of sendmsg(2)/recvmsg(2) and AF_UNIX sockets: `struct iovec`, `struct msghdr`,
 * `struct cmsghdr` (with the CMSG_* arithmetic), `struct ucred`, `struct sockaddr_un`,
 * `struct pollfd` and `struct epoll_event`. x86_64 and aarch64 are both LP64 with the same
 * alignment rules, so the layouts are identical on the two except `struct epoll_event`, which
 * is packed on x86_64 only; {@linkcode LAYOUTS} spells them out per architecture for the test
 * that pins them.
 * @module
 */

/** Sizes and field offsets of one architecture. */
export interface Layout {
  iovec: { SIZE: number; BASE: number; LEN: number };
  msghdr: {
    SIZE: number;
    NAME: number;
    NAMELEN: number;
    IOV: number;
    IOVLEN: number;
    CONTROL: number;
    CONTROLLEN: number;
    FLAGS: number;
  };
  cmsghdr: { SIZE: number; LEN: number; LEVEL: number; TYPE: number; ALIGN: number };
  ucred: { SIZE: number; PID: number; UID: number; GID: number };
  sockaddrUn: { SIZE: number; FAMILY: number; PATH: number; PATH_MAX: number };
  pollfd: { SIZE: number; FD: number; EVENTS: number; REVENTS: number };
  epollEvent: { SIZE: number; EVENTS: number; DATA: number };
}

const LP64: Layout = {
  // struct iovec { void *iov_base; size_t iov_len; }
  iovec: { SIZE: 16, BASE: 0, LEN: 8 },
  // struct msghdr { void *msg_name; socklen_t msg_namelen; /* 4 bytes padding */
  //   struct iovec *msg_iov; size_t msg_iovlen; void *msg_control; size_t msg_controllen;
  //   int msg_flags; /* 4 bytes padding */ }
  msghdr: {
    SIZE: 56,
    NAME: 0,
    NAMELEN: 8,
    IOV: 16,
    IOVLEN: 24,
    CONTROL: 32,
    CONTROLLEN: 40,
    FLAGS: 48,
  },
  // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then data, aligned to
  // sizeof(size_t)
  cmsghdr: { SIZE: 16, LEN: 0, LEVEL: 8, TYPE: 12, ALIGN: 8 },
  // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  ucred: { SIZE: 12, PID: 0, UID: 4, GID: 8 },
  // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }
  sockaddrUn: { SIZE: 110, FAMILY: 0, PATH: 2, PATH_MAX: 108 },
  // struct pollfd { int fd; short events; short revents; }
  pollfd: { SIZE: 8, FD: 0, EVENTS: 4, REVENTS: 6 },
  // struct epoll_event { uint32_t events; epoll_data_t data; } (a u64 union)
  epollEvent: { SIZE: 16, EVENTS: 0, DATA: 8 },
};

/** The layouts per architecture. */
export const LAYOUTS: Readonly<Record<"x86_64" | "aarch64", Layout>> = {
  // x86_64 declares struct epoll_event __attribute__((packed)) (i386 compatibility).
  x86_64: { ...LP64, epollEvent: { SIZE: 12, EVENTS: 0, DATA: 4 } },
  aarch64: LP64,
};

const HERE = LAYOUTS[Deno.build.arch];

/** `struct iovec` of this machine. */
export const IOVEC = HERE.iovec;
/** `struct msghdr` of this machine. */
export const MSGHDR = HERE.msghdr;
/** `struct cmsghdr` of this machine (header only; data follows at `CMSG_LEN(0)`). */
export const CMSGHDR = HERE.cmsghdr;
/** `struct ucred` of this machine. */
export const UCRED = HERE.ucred;
/** `struct sockaddr_un` of this machine. */
export const SOCKADDR_UN = HERE.sockaddrUn;
/** `struct pollfd` of this machine. */
export const POLLFD = HERE.pollfd;
/** `struct epoll_event` of this machine. */
export const EPOLL_EVENT = HERE.epollEvent;

/** SOL_SOCKET, the cmsg level of SCM_RIGHTS. */
export const SOL_SOCKET = 1;
/** SCM_RIGHTS: the cmsg data is an array of int fds. */
export const SCM_RIGHTS = 1;
/** AF_UNIX. */
export const AF_UNIX = 1;

/** CMSG_ALIGN(n): n rounded up to the alignment of size_t. */
export function cmsgAlign(n: number): number {
  return (n + CMSGHDR.ALIGN - 1) & ~(CMSGHDR.ALIGN - 1);
}

/** CMSG_LEN(n): the cmsg_len of a message with n bytes of data. */
export function cmsgLen(n: number): number {
  return cmsgAlign(CMSGHDR.SIZE) + n;
}

/** CMSG_SPACE(n): the bytes a message with n bytes of data takes in a control buffer. */
export function cmsgSpace(n: number): number {
  return cmsgAlign(CMSGHDR.SIZE) + cmsgAlign(n);
}

/** A decoded `struct iovec`. */
export interface Iovec {
  base: bigint;
  len: number;
}

/** Writes a `struct iovec` at `off`. */
export function encodeIovec(dv: DataView, off: number, v: Iovec): void {
  dv.setBigUint64(off + IOVEC.BASE, v.base, true);
  dv.setBigUint64(off + IOVEC.LEN, BigInt(v.len), true);
}

/** Reads a `struct iovec` at `off`. */
export function decodeIovec(dv: DataView, off: number): Iovec {
  return {
    base: dv.getBigUint64(off + IOVEC.BASE, true),
    len: Number(dv.getBigUint64(off + IOVEC.LEN, true)),
  };
}

/** A decoded `struct msghdr`; pointers are addresses. */
export interface Msghdr {
  name: bigint;
  namelen: number;
  iov: bigint;
  iovlen: number;
  control: bigint;
  controllen: number;
  flags: number;
}

/** Writes a `struct msghdr` at `off` (padding is left as is: zero in a fresh buffer). */
export function encodeMsghdr(dv: DataView, off: number, m: Msghdr): void {
  dv.setBigUint64(off + MSGHDR.NAME, m.name, true);
  dv.setUint32(off + MSGHDR.NAMELEN, m.namelen, true);
  dv.setBigUint64(off + MSGHDR.IOV, m.iov, true);
  dv.setBigUint64(off + MSGHDR.IOVLEN, BigInt(m.iovlen), true);
  dv.setBigUint64(off + MSGHDR.CONTROL, m.control, true);
  dv.setBigUint64(off + MSGHDR.CONTROLLEN, BigInt(m.controllen), true);
  dv.setInt32(off + MSGHDR.FLAGS, m.flags, true);
}

/** Reads a `struct msghdr` at `off`. */
export function decodeMsghdr(dv: DataView, off: number): Msghdr {
  return {
    name: dv.getBigUint64(off + MSGHDR.NAME, true),
    namelen: dv.getUint32(off + MSGHDR.NAMELEN, true),
    iov: dv.getBigUint64(off + MSGHDR.IOV, true),
    iovlen: Number(dv.getBigUint64(off + MSGHDR.IOVLEN, true)),
    control: dv.getBigUint64(off + MSGHDR.CONTROL, true),
    controllen: Number(dv.getBigUint64(off + MSGHDR.CONTROLLEN, true)),
    flags: dv.getInt32(off + MSGHDR.FLAGS, true),
  };
}

/** A decoded `struct cmsghdr`. */
export interface Cmsghdr {
  /** cmsg_len: header plus data, without trailing padding (CMSG_LEN). */
  len: number;
  level: number;
  type: number;
}

/** Writes a `struct cmsghdr` at `off`. */
export function encodeCmsghdr(dv: DataView, off: number, c: Cmsghdr): void {
  dv.setBigUint64(off + CMSGHDR.LEN, BigInt(c.len), true);
  dv.setInt32(off + CMSGHDR.LEVEL, c.level, true);
  dv.setInt32(off + CMSGHDR.TYPE, c.type, true);
}

/** Reads a `struct cmsghdr` at `off`. */
export function decodeCmsghdr(dv: DataView, off: number): Cmsghdr {
  return {
    len: Number(dv.getBigUint64(off + CMSGHDR.LEN, true)),
    level: dv.getInt32(off + CMSGHDR.LEVEL, true),
    type: dv.getInt32(off + CMSGHDR.TYPE, true),
  };
}

/** A decoded `struct ucred` (SO_PEERCRED). */
export interface Ucred {
  pid: number;
  uid: number;
  gid: number;
}

/** Reads a `struct ucred` at `off`. */
export function decodeUcred(dv: DataView, off: number): Ucred {
  return {
    pid: dv.getInt32(off + UCRED.PID, true),
    uid: dv.getUint32(off + UCRED.UID, true),
    gid: dv.getUint32(off + UCRED.GID, true),
  };
}

/** Writes a `struct ucred` at `off`. */
export function encodeUcred(dv: DataView, off: number, c: Ucred): void {
  dv.setInt32(off + UCRED.PID, c.pid, true);
  dv.setUint32(off + UCRED.UID, c.uid, true);
  dv.setUint32(off + UCRED.GID, c.gid, true);
}

/**
 * A `struct sockaddr_un` for a file path (NUL-terminated; never abstract) and the address
 * length to pass with it. Throws a RangeError when the path does not fit in `sun_path` or is
 * empty (an empty path would make an abstract or autobind address).
 */
export function encodeSockaddrUn(path: Uint8Array): { addr: Uint8Array; len: number } {
  if (path.byteLength === 0 || path.byteLength >= SOCKADDR_UN.PATH_MAX) {
    throw new RangeError(
      `socket path of ${path.byteLength} bytes does not fit sun_path (1 to ${
        SOCKADDR_UN.PATH_MAX - 1
      })`,
    );
  }
  if (path.includes(0)) throw new RangeError("socket path contains a NUL byte");
  const addr = new Uint8Array(SOCKADDR_UN.SIZE);
  new DataView(addr.buffer).setUint16(SOCKADDR_UN.FAMILY, AF_UNIX, true);
  addr.set(path, SOCKADDR_UN.PATH);
  return { addr, len: SOCKADDR_UN.PATH + path.byteLength + 1 };
}

/** Writes a `struct pollfd` at `off` (revents zeroed). */
export function encodePollfd(dv: DataView, off: number, fd: number, events: number): void {
  dv.setInt32(off + POLLFD.FD, fd, true);
  dv.setInt16(off + POLLFD.EVENTS, events, true);
  dv.setInt16(off + POLLFD.REVENTS, 0, true);
}

/** Reads the revents of a `struct pollfd` at `off`. */
export function decodePollfdRevents(dv: DataView, off: number): number {
  return dv.getUint16(off + POLLFD.REVENTS, true);
}

/** Writes a `struct epoll_event` at `off`. */
export function encodeEpollEvent(dv: DataView, off: number, events: number, data: bigint): void {
  dv.setUint32(off + EPOLL_EVENT.EVENTS, events, true);
  dv.setBigUint64(off + EPOLL_EVENT.DATA, data, true);
}

/** Reads a `struct epoll_event` at `off`. */
export function decodeEpollEvent(dv: DataView, off: number): { events: number; data: bigint } {
  return {
    events: dv.getUint32(off + EPOLL_EVENT.EVENTS, true),
    data: dv.getBigUint64(off + EPOLL_EVENT.DATA, true),
  };
}
