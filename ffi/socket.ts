/**
 * AF_UNIX SOCK_SEQPACKET sockets for the control socket: listen on a file path (never an
 * abstract address), connect, socketpair, sendmsg/recvmsg with fds attached (SCM_RIGHTS),
 * SO_PEERCRED, an epoll waiter that watches many fds from one FFI thread, and the memfd that
 * carries messages too large for one datagram.
 *
 * Blocking calls come in two forms: synchronous (the calling thread blocks: right for a short
 * CLI command where nothing else runs) and `*Async`, which block one of Deno's FFI threads
 * while the event loop keeps running. Deno has at most 32 such threads for the whole process
 * (shared with its async file system ops), so a long-lived server should wait with one
 * {@linkcode ReadyWaiter} rather than one pending `*Async` call per connection.
 * @module
 */
import { SyscallError } from "./error.ts";
import {
  AF_UNIX,
  CMSGHDR,
  cmsgLen,
  cmsgSpace,
  decodeCmsghdr,
  decodeEpollEvent,
  decodeMsghdr,
  decodeUcred,
  encodeCmsghdr,
  encodeEpollEvent,
  encodeIovec,
  encodeMsghdr,
  encodeSockaddrUn,
  EPOLL_EVENT,
  IOVEC,
  MSGHDR,
  SCM_RIGHTS,
  SOCKADDR_UN,
  SOL_SOCKET,
  UCRED,
} from "./structs/msghdr.ts";
import { SYS } from "./sysno_x86_64.ts";
import { cstr, rawSyscall, rawSyscallAsync, sys, sysAsync } from "./syscall.ts";

const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const SO_PEERCRED = 17;
const SO_RCVTIMEO = 20;
const SHUT_RDWR = 2;
const AT_FDCWD = -100;
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = 0o200000;
const O_PATH = 0o10000000;
const O_NONBLOCK = 0o4000;
const F_GETFL = 3;
const F_SETFL = 4;
const MFD_CLOEXEC = 1;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EINTR = 4;
const EAGAIN = 11;

/** MSG_DONTWAIT: this call does not block. */
export const MSG_DONTWAIT = 0x40;
/** MSG_NOSIGNAL: a send to a closed peer fails with EPIPE instead of raising SIGPIPE. */
export const MSG_NOSIGNAL = 0x4000;
const MSG_CTRUNC = 0x8;
const MSG_TRUNC = 0x20;
const MSG_CMSG_CLOEXEC = 0x40000000;

/** The kernel's limit of fds in one SCM_RIGHTS message (SCM_MAX_FD). */
export const SCM_MAX_FD = 253;

const FD_BYTES = 4;

function addr(buf: Uint8Array): bigint {
  if (buf.byteLength === 0) return 0n;
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

function closeQuiet(fd: number): void {
  if (fd >= 0) rawSyscall(SYS.close, fd);
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) closeQuiet(fd);
}

const enc = new TextEncoder();

/**
 * Calls `fn` with a sockaddr_un for `path`. A path too long for sun_path (107 bytes) is reached
 * through an O_PATH fd of its directory: `/proc/self/fd/<dirfd>/<name>`, as runc does.
 */
function withSockaddr<T>(
  path: string,
  what: string,
  fn: (a: { addr: Uint8Array; len: number }, shortPath: string) => T,
): T {
  const bytes = enc.encode(path);
  if (bytes.byteLength > 0 && bytes.byteLength < SOCKADDR_UN.PATH_MAX) {
    return fn(encodeSockaddrUn(bytes), path);
  }
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const name = path.slice(slash + 1);
  const dfd = sys(
    "openat",
    `${JSON.stringify(dir)} (directory of ${what})`,
    SYS.openat,
    AT_FDCWD,
    cstr(dir),
    O_PATH | O_DIRECTORY | O_CLOEXEC,
    0,
  );
  try {
    const short = `/proc/self/fd/${dfd}/${name}`;
    const b = enc.encode(short);
    if (b.byteLength >= SOCKADDR_UN.PATH_MAX) {
      throw new SyscallError("socket path", 36, /* ENAMETOOLONG */ JSON.stringify(path));
    }
    return fn(encodeSockaddrUn(b), short);
  } finally {
    closeQuiet(dfd);
  }
}

function seqpacket(): number {
  return sys(
    "socket",
    "AF_UNIX SOCK_SEQPACKET",
    SYS.socket,
    AF_UNIX,
    SOCK_SEQPACKET | SOCK_CLOEXEC,
    0,
  );
}

/** Options of listenUnix(). */
export interface ListenOptions {
  /** Mode of the socket file (default 0o600). */
  mode?: number;
  /** listen(2) backlog (default 16). */
  backlog?: number;
}

/**
 * Creates a listening AF_UNIX SOCK_SEQPACKET socket (close-on-exec) bound to the file `path`,
 * sets the file's mode (default 0600: only the owner, and root, may connect) and returns its
 * fd. The file must not exist. On failure nothing is left behind.
 *
 * @example
 * ```ts
 * const fd = listenUnix("/run/runts/abc/sock", { mode: 0o600, backlog: 16 });
 * ```
 */
export function listenUnix(path: string, opts: ListenOptions = {}): number {
  const mode = opts.mode ?? 0o600;
  const backlog = opts.backlog ?? 16;
  const fd = seqpacket();
  let bound = false;
  try {
    withSockaddr(path, "socket", (a, short) => {
      sys("bind", JSON.stringify(path), SYS.bind, fd, a.addr, a.len);
      bound = true;
      // The file takes its mode from the umask at bind; fchmod on the socket fd does not
      // reach the file, so chmod the path.
      sys("fchmodat", JSON.stringify(path), SYS.fchmodat, AT_FDCWD, cstr(short), mode, 0);
    });
    sys("listen", JSON.stringify(path), SYS.listen, fd, backlog);
    return fd;
  } catch (e) {
    closeQuiet(fd);
    if (bound) rawSyscall(SYS.unlinkat, AT_FDCWD, cstr(path), 0);
    throw e;
  }
}

/**
 * Connects a new AF_UNIX SOCK_SEQPACKET socket (close-on-exec, blocking) to the socket file
 * `path` and returns its fd. Throws a SyscallError `connect "<path>": ENOENT (...)`.
 */
export function connectUnix(path: string): number {
  const fd = seqpacket();
  try {
    withSockaddr(path, "socket", (a) => {
      for (;;) {
        const r = rawSyscall(SYS.connect, fd, a.addr, a.len);
        if (r === -EINTR) continue;
        if (r < 0) throw new SyscallError("connect", -r, JSON.stringify(path));
        return;
      }
    });
    return fd;
  } catch (e) {
    closeQuiet(fd);
    throw e;
  }
}

/** A connected pair of AF_UNIX SOCK_SEQPACKET sockets (close-on-exec). */
export function socketpairSeqpacket(): [number, number] {
  const sv = new Uint8Array(8);
  sys(
    "socketpair",
    "AF_UNIX SOCK_SEQPACKET",
    SYS.socketpair,
    AF_UNIX,
    SOCK_SEQPACKET | SOCK_CLOEXEC,
    0,
    sv,
  );
  const dv = new DataView(sv.buffer);
  return [dv.getInt32(0, true), dv.getInt32(4, true)];
}

/**
 * Sends one message with `fds` attached (SCM_RIGHTS; the caller keeps its own copies). The
 * flags default to MSG_NOSIGNAL; add MSG_DONTWAIT to fail with EAGAIN rather than block.
 */
export function sendMsg(
  fd: number,
  data: Uint8Array,
  fds: readonly number[] = [],
  flags = MSG_NOSIGNAL,
): void {
  if (fds.length > SCM_MAX_FD) {
    throw new RangeError(`too many fds in one message: ${fds.length} (at most ${SCM_MAX_FD})`);
  }
  const ctl = fds.length === 0 ? 0 : cmsgSpace(FD_BYTES * fds.length);
  // msghdr, iovec and control buffer in one allocation; all are referenced by `hdr` until the
  // call returns, and `data` is a parameter.
  const hdr = new Uint8Array(MSGHDR.SIZE + IOVEC.SIZE + ctl);
  const dv = new DataView(hdr.buffer);
  const base = addr(hdr);
  encodeIovec(dv, MSGHDR.SIZE, { base: addr(data), len: data.byteLength });
  const ctlOff = MSGHDR.SIZE + IOVEC.SIZE;
  if (ctl > 0) {
    encodeCmsghdr(dv, ctlOff, {
      len: cmsgLen(FD_BYTES * fds.length),
      level: SOL_SOCKET,
      type: SCM_RIGHTS,
    });
    fds.forEach((f, i) => dv.setInt32(ctlOff + CMSGHDR.SIZE + FD_BYTES * i, f, true));
  }
  encodeMsghdr(dv, 0, {
    name: 0n,
    namelen: 0,
    iov: base + BigInt(MSGHDR.SIZE),
    iovlen: 1,
    control: ctl > 0 ? base + BigInt(ctlOff) : 0n,
    controllen: ctl,
    flags: 0,
  });
  for (;;) {
    const n = rawSyscall(SYS.sendmsg, fd, hdr, flags);
    if (n === -EINTR) continue;
    if (n < 0) throw new SyscallError("sendmsg", -n);
    if (n !== data.byteLength) {
      throw new Error(`sendmsg sent ${n} of ${data.byteLength} bytes`);
    }
    return;
  }
}

/** A received message: its bytes and the fds that came with it (close-on-exec, now ours). */
export interface Received {
  data: Uint8Array;
  fds: number[];
}

/**
 * Receives messages into buffers allocated once (the msghdr, iovec and control buffer point
 * into each other, so their addresses are computed once). The `data` of a result is a view of
 * the receiver's buffer, valid until its next receive. Received fds are close-on-exec
 * (MSG_CMSG_CLOEXEC). A message longer than `maxBytes` or carrying more than `maxFds` fds is
 * rejected with an error after the fds that did arrive are closed; either way it is consumed.
 */
export class MsgReceiver {
  /** Largest message accepted, in bytes. */
  readonly maxBytes: number;
  /** Most fds accepted in one message. */
  readonly maxFds: number;
  #data: Uint8Array;
  #hdr: Uint8Array;
  #dv: DataView;
  #ctl: number;
  #busy = false;

  constructor(maxBytes: number, maxFds: number) {
    this.maxBytes = maxBytes;
    this.maxFds = maxFds;
    this.#data = new Uint8Array(new ArrayBuffer(Math.max(maxBytes, 1)));
    this.#ctl = maxFds > 0 ? cmsgSpace(FD_BYTES * maxFds) : 0;
    this.#hdr = new Uint8Array(new ArrayBuffer(MSGHDR.SIZE + IOVEC.SIZE + this.#ctl));
    this.#dv = new DataView(this.#hdr.buffer);
    const base = addr(this.#hdr);
    encodeIovec(this.#dv, MSGHDR.SIZE, { base: addr(this.#data), len: maxBytes });
    encodeMsghdr(this.#dv, 0, {
      name: 0n,
      namelen: 0,
      iov: base + BigInt(MSGHDR.SIZE),
      iovlen: 1,
      control: this.#ctl > 0 ? base + BigInt(MSGHDR.SIZE + IOVEC.SIZE) : 0n,
      controllen: this.#ctl,
      flags: 0,
    });
  }

  #reset(): void {
    if (this.#busy) throw new Error("MsgReceiver is already receiving");
    // The kernel writes back msg_controllen and msg_flags.
    this.#dv.setBigUint64(MSGHDR.CONTROLLEN, BigInt(this.#ctl), true);
    this.#dv.setInt32(MSGHDR.FLAGS, 0, true);
  }

  /**
   * Receives one message on the calling thread; null at end of file (a zero-length message
   * without fds reads the same). `flags` may add MSG_DONTWAIT (then EAGAIN throws).
   */
  recv(fd: number, flags = 0): Received | null {
    this.#reset();
    for (;;) {
      const n = rawSyscall(SYS.recvmsg, fd, this.#hdr, flags | MSG_TRUNC | MSG_CMSG_CLOEXEC);
      if (n === -EINTR) continue;
      return this.#finish(n);
    }
  }

  /** Like recv(), blocking one of Deno's FFI threads instead of the calling thread. */
  async recvAsync(fd: number): Promise<Received | null> {
    this.#reset();
    this.#busy = true;
    let n: number;
    try {
      do {
        n = await rawSyscallAsync(SYS.recvmsg, fd, this.#hdr, MSG_TRUNC | MSG_CMSG_CLOEXEC);
      } while (n === -EINTR);
    } finally {
      this.#busy = false;
    }
    return this.#finish(n);
  }

  #finish(n: number): Received | null {
    if (n < 0) throw new SyscallError("recvmsg", -n);
    const h = decodeMsghdr(this.#dv, 0);
    const fds: number[] = [];
    const start = MSGHDR.SIZE + IOVEC.SIZE;
    let off = start;
    while (off + CMSGHDR.SIZE <= start + h.controllen) {
      const c = decodeCmsghdr(this.#dv, off);
      if (c.len < CMSGHDR.SIZE) break;
      if (c.level === SOL_SOCKET && c.type === SCM_RIGHTS) {
        const count = Math.floor((c.len - CMSGHDR.SIZE) / FD_BYTES);
        for (let i = 0; i < count; i++) {
          fds.push(this.#dv.getInt32(off + CMSGHDR.SIZE + FD_BYTES * i, true));
        }
      }
      off += cmsgSpace(c.len - CMSGHDR.SIZE);
    }
    if (h.flags & MSG_CTRUNC) {
      closeAll(fds);
      throw new Error(
        `message rejected: more than ${this.maxFds} fds attached (the excess was discarded)`,
      );
    }
    if (h.flags & MSG_TRUNC) {
      closeAll(fds);
      throw new Error(`message rejected: ${n} bytes is more than ${this.maxBytes}`);
    }
    if (n === 0 && fds.length === 0) return null;
    return { data: this.#data.subarray(0, n), fds };
  }
}

/** Receives one message on the calling thread (see MsgReceiver); null at end of file. */
export function recvMsg(fd: number, maxBytes: number, maxFds: number): Received | null {
  return new MsgReceiver(maxBytes, maxFds).recv(fd);
}

/** Receives one message on Deno's FFI thread (see MsgReceiver); null at end of file. */
export function recvMsgAsync(
  fd: number,
  maxBytes: number,
  maxFds: number,
): Promise<Received | null> {
  return new MsgReceiver(maxBytes, maxFds).recvAsync(fd);
}

/**
 * Accepts a connection on the calling thread (close-on-exec). Returns null when the listening
 * socket is non-blocking and nothing is pending.
 */
export function accept(fd: number): number | null {
  for (;;) {
    const r = rawSyscall(SYS.accept4, fd, null, null, SOCK_CLOEXEC);
    if (r === -EINTR) continue;
    if (r === -EAGAIN) return null;
    if (r < 0) throw new SyscallError("accept4", -r);
    return r;
  }
}

/** Accepts a connection (close-on-exec), blocking one of Deno's FFI threads. */
export function acceptAsync(fd: number): Promise<number> {
  return sysAsync("accept4", "", SYS.accept4, fd, null, null, SOCK_CLOEXEC);
}

/** The credentials of the process at the other end, as of connect/socketpair. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** SO_PEERCRED of a connected AF_UNIX socket. */
export function peerCred(fd: number): PeerCred {
  const buf = new Uint8Array(UCRED.SIZE);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, UCRED.SIZE, true);
  sys("getsockopt", "SO_PEERCRED", SYS.getsockopt, fd, SOL_SOCKET, SO_PEERCRED, buf, len);
  return decodeUcred(new DataView(buf.buffer), 0);
}

/**
 * SO_RCVTIMEO: a blocking receive on the socket fails with EAGAIN after `ms` (0: never). A
 * timeout for a short command's blocking call without a timer (Deno's first setTimeout costs a
 * short command several milliseconds).
 */
export function setRecvTimeout(fd: number, ms: number): void {
  const tv = new Uint8Array(16); // struct timeval { long tv_sec; long tv_usec; }
  const dv = new DataView(tv.buffer);
  dv.setBigInt64(0, BigInt(Math.floor(ms / 1000)), true);
  dv.setBigInt64(8, BigInt((ms % 1000) * 1000), true);
  sys("setsockopt", "SO_RCVTIMEO", SYS.setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
}

/**
 * shutdown(SHUT_RDWR): wakes a call blocked on the socket in another thread (recvmsg returns
 * end of file, accept fails with EINVAL) without freeing the fd number. Errors are ignored.
 */
export function shutdownFd(fd: number): void {
  rawSyscall(SYS.shutdown, fd, SHUT_RDWR);
}

/** Sets or clears O_NONBLOCK (on the open file description, shared with dups). */
export function setNonblocking(fd: number, on = true): void {
  const fl = sys("fcntl", "F_GETFL", SYS.fcntl, fd, F_GETFL);
  sys("fcntl", "F_SETFL", SYS.fcntl, fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/** A close-on-exec memfd holding `data`, positioned at 0 (for messages too large to send). */
export function memfdWith(data: Uint8Array, name = "runts"): number {
  const fd = sys("memfd_create", JSON.stringify(name), SYS.memfd_create, cstr(name), MFD_CLOEXEC);
  try {
    let off = 0;
    while (off < data.byteLength) {
      const rest = data.subarray(off);
      const n = rawSyscall(SYS.write, fd, rest, rest.byteLength);
      if (n === -EINTR) continue;
      if (n <= 0) throw new SyscallError("write", n < 0 ? -n : 28, /* ENOSPC */ "memfd");
      off += n;
    }
    return fd;
  } catch (e) {
    closeQuiet(fd);
    throw e;
  }
}

/** Reads exactly `len` bytes from offset 0 of `fd` with pread(2); a short file is an error. */
export function preadExact(fd: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let off = 0;
  while (off < len) {
    const rest = out.subarray(off);
    const n = rawSyscall(SYS.pread64, fd, rest, rest.byteLength, off);
    if (n === -EINTR) continue;
    if (n < 0) throw new SyscallError("pread64", -n);
    if (n === 0) throw new Error(`file ended after ${off} of ${len} bytes`);
    off += n;
  }
  return out;
}

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
/** epoll: readable. */
export const EPOLLIN = 0x1;
/** epoll: error (always reported). */
export const EPOLLERR = 0x8;
/** epoll: hang-up (always reported). */
export const EPOLLHUP = 0x10;
const EPOLLONESHOT = 1 << 30;
const MAX_EVENTS = 64;

/**
 * Waits for fds to become readable with one epoll_pwait(2) on one of Deno's FFI threads, so a
 * server with many connections uses a single thread. The set lives in the kernel: fds are
 * added, re-armed and removed from the event loop while a wait is pending, with no wake-up.
 * An fd watched `oneshot` reports once and then stays quiet until rearm() (so a connection
 * whose call is being handled is not reported again). wake() ends a pending wait (eventfd).
 * One wait() at a time.
 */
export class ReadyWaiter {
  #ep: number;
  #efd: number;
  #events = new Uint8Array(new ArrayBuffer(EPOLL_EVENT.SIZE * MAX_EVENTS));
  #ctl = new Uint8Array(new ArrayBuffer(16));
  #one = new Uint8Array(new ArrayBuffer(8));
  #waiting = false;

  constructor() {
    this.#ep = sys("epoll_create1", "", SYS.epoll_create1, EPOLL_CLOEXEC);
    try {
      this.#efd = sys("eventfd2", "", SYS.eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
    } catch (e) {
      closeQuiet(this.#ep);
      throw e;
    }
    this.#op(EPOLL_CTL_ADD, this.#efd, EPOLLIN);
    new DataView(this.#one.buffer).setBigUint64(0, 1n, true);
  }

  #op(op: number, fd: number, events: number): void {
    encodeEpollEvent(new DataView(this.#ctl.buffer), 0, events, BigInt(fd));
    const r = rawSyscall(SYS.epoll_ctl, this.#ep, op, fd, this.#ctl);
    if (r < 0) throw new SyscallError("epoll_ctl", -r, `fd ${fd}`);
  }

  /** Watches `fd` for reading: every time it is ready, or once until rearm() (`oneshot`). */
  watch(fd: number, opts: { oneshot?: boolean } = {}): void {
    this.#op(EPOLL_CTL_ADD, fd, EPOLLIN | (opts.oneshot ? EPOLLONESHOT : 0));
  }

  /** Re-arms a oneshot fd (reported at once if it is ready now). */
  rearm(fd: number): void {
    this.#op(EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT);
  }

  /** Stops watching `fd` (do it before closing an fd that may have been duplicated). */
  unwatch(fd: number): void {
    rawSyscall(SYS.epoll_ctl, this.#ep, EPOLL_CTL_DEL, fd, this.#ctl);
  }

  /**
   * Resolves with `[fd, events]` for the watched fds that are ready (EPOLLIN, EPOLLHUP,
   * EPOLLERR), or an empty list when woken or after `timeoutMs` (-1: never).
   */
  async wait(timeoutMs = -1): Promise<[number, number][]> {
    if (this.#waiting) throw new Error("ReadyWaiter.wait() is already waiting");
    if (this.#ep < 0) throw new Error("ReadyWaiter is closed");
    const buf = this.#events;
    this.#waiting = true;
    let n: number;
    try {
      do {
        n = await rawSyscallAsync(SYS.epoll_pwait, this.#ep, buf, MAX_EVENTS, timeoutMs, null, 8);
      } while (n === -EINTR);
    } finally {
      this.#waiting = false;
    }
    if (n < 0) throw new SyscallError("epoll_pwait", -n);
    const dv = new DataView(buf.buffer);
    const ready: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const ev = decodeEpollEvent(dv, EPOLL_EVENT.SIZE * i);
      const fd = Number(ev.data);
      if (fd === this.#efd) rawSyscall(SYS.read, this.#efd, this.#one, 8); // reset it
      else ready.push([fd, ev.events]);
    }
    return ready;
  }

  /** Makes a pending (or the next) wait() return at once. */
  wake(): void {
    if (this.#efd < 0) return;
    new DataView(this.#one.buffer).setBigUint64(0, 1n, true);
    rawSyscall(SYS.write, this.#efd, this.#one, 8);
  }

  /** Closes the epoll and eventfd; call it once no wait() is pending. */
  close(): void {
    closeQuiet(this.#efd);
    closeQuiet(this.#ep);
    this.#efd = -1;
    this.#ep = -1;
  }
}
