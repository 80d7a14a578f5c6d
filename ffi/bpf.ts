/**
 * The bpf(2) system call, for the few commands runts needs to enforce device rules on cgroup v2:
 * load a program (with the verifier's log on rejection), attach it to a cgroup, detach it,
 * list the programs attached to a cgroup, open a program by id and read its name.
 *
 * `union bpf_attr` is encoded per command with a DataView at the kernel's offsets
 * (include/uapi/linux/bpf.h; the same on every 64-bit architecture: only fixed-size fields
 * and `__aligned_u64`). `struct bpf_insn` (8 bytes) is encoded here too, so code outside
 * `ffi/` builds programs as plain data.
 * @module
 */
import { SyscallError } from "./error.ts";
import { addressOf } from "./memory.ts";
import { closeFd } from "./process.ts";
import { cstr, rawSyscall } from "./syscall.ts";
import { SYS } from "./sysno_x86_64.ts";

/** bpf(2) commands (`enum bpf_cmd`). */
export const BPF_CMD = {
  PROG_LOAD: 5,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_GET_FD_BY_ID: 13,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
} as const;

/** `BPF_PROG_TYPE_CGROUP_DEVICE` of `enum bpf_prog_type`. */
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
/** `BPF_CGROUP_DEVICE` of `enum bpf_attach_type`. */
export const BPF_CGROUP_DEVICE = 6;
/** Attach flag: descendants may override the program. */
export const BPF_F_ALLOW_OVERRIDE = 1;
/** Attach flag: several programs may be attached; every one must allow. */
export const BPF_F_ALLOW_MULTI = 2;
/** Longest program name, NUL excluded (`BPF_OBJ_NAME_LEN` - 1). */
export const BPF_OBJ_NAME_MAX = 15;

/** Offsets of the BPF_PROG_LOAD part of `union bpf_attr`. */
export const PROG_LOAD_ATTR = {
  SIZE: 72,
  progType: 0,
  insnCnt: 4,
  insns: 8,
  license: 16,
  logLevel: 24,
  logSize: 28,
  logBuf: 32,
  kernVersion: 40,
  progFlags: 44,
  progName: 48,
  progIfindex: 64,
  expectedAttachType: 68,
} as const;

/** Offsets of the BPF_PROG_ATTACH / BPF_PROG_DETACH part of `union bpf_attr`. */
export const PROG_ATTACH_ATTR = {
  SIZE: 24,
  targetFd: 0,
  attachBpfFd: 4,
  attachType: 8,
  attachFlags: 12,
  replaceBpfFd: 16,
} as const;

/** Offsets of the BPF_PROG_QUERY part of `union bpf_attr`. */
export const PROG_QUERY_ATTR = {
  SIZE: 32,
  targetFd: 0,
  attachType: 4,
  queryFlags: 8,
  attachFlags: 12,
  progIds: 16,
  progCnt: 24,
} as const;

/** Offsets of the BPF_PROG_GET_FD_BY_ID part of `union bpf_attr`. */
export const GET_FD_BY_ID_ATTR = { SIZE: 12, id: 0, nextId: 4, openFlags: 8 } as const;

/** Offsets of the BPF_OBJ_GET_INFO_BY_FD part of `union bpf_attr`. */
export const GET_INFO_ATTR = { SIZE: 16, bpfFd: 0, infoLen: 4, info: 8 } as const;

/** Offsets of the first fields of `struct bpf_prog_info` (the kernel fills what fits). */
export const PROG_INFO = {
  SIZE: 80,
  type: 0,
  id: 4,
  tag: 8,
  name: 64,
} as const;

/** Size of `struct bpf_insn`. */
export const BPF_INSN_SIZE = 8;

/** One eBPF instruction (`struct bpf_insn`). */
export interface BpfInsn {
  /** Opcode: class | size/op | mode/source. */
  code: number;
  /** Destination register (0..10). */
  dst: number;
  /** Source register (0..10). */
  src: number;
  /** Signed 16-bit offset (jumps: instructions to skip; memory: byte offset). */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
}

/**
 * Encodes instructions as the kernel reads them: code u8, dst_reg (low nibble) and src_reg
 * (high nibble) in one byte, off i16, imm i32, little-endian.
 */
export function encodeInsns(insns: readonly BpfInsn[]): Uint8Array {
  const out = new Uint8Array(insns.length * BPF_INSN_SIZE);
  const v = new DataView(out.buffer);
  insns.forEach((i, k) => {
    const o = k * BPF_INSN_SIZE;
    if (i.dst < 0 || i.dst > 10 || i.src < 0 || i.src > 10) {
      throw new RangeError(`instruction ${k}: register out of range (dst ${i.dst}, src ${i.src})`);
    }
    if (i.off < -32768 || i.off > 32767) {
      throw new RangeError(`instruction ${k}: offset ${i.off} does not fit in 16 bits`);
    }
    v.setUint8(o, i.code);
    v.setUint8(o + 1, (i.src << 4) | i.dst);
    v.setInt16(o + 2, i.off, true);
    v.setInt32(o + 4, i.imm | 0, true);
  });
  return out;
}

/** Decodes `struct bpf_insn` bytes (the inverse of {@linkcode encodeInsns}). */
export function decodeInsns(bytes: Uint8Array): BpfInsn[] {
  if (bytes.byteLength % BPF_INSN_SIZE !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of instructions`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: BpfInsn[] = [];
  for (let o = 0; o < bytes.byteLength; o += BPF_INSN_SIZE) {
    const regs = v.getUint8(o + 1);
    out.push({
      code: v.getUint8(o),
      dst: regs & 0xf,
      src: regs >> 4,
      off: v.getInt16(o + 2, true),
      imm: v.getInt32(o + 4, true),
    });
  }
  return out;
}

/** Addresses and values of a BPF_PROG_LOAD attr. */
export interface ProgLoadAttr {
  /** `enum bpf_prog_type`. */
  progType: number;
  /** Number of instructions. */
  insnCnt: number;
  /** Address of the instructions. */
  insns: bigint;
  /** Address of the NUL-terminated license. */
  license: bigint;
  /** Verifier log level (0: none). */
  logLevel: number;
  /** Log buffer size in bytes. */
  logSize: number;
  /** Address of the log buffer. */
  logBuf: bigint;
  /** Program name (at most 15 bytes of `[A-Za-z0-9_.]`). */
  name: string;
  /** `enum bpf_attach_type` the program is meant for (0 when the type needs none). */
  expectedAttachType: number;
}

/** Encodes the BPF_PROG_LOAD attr. */
export function encodeProgLoadAttr(a: ProgLoadAttr): Uint8Array {
  const L = PROG_LOAD_ATTR;
  const out = new Uint8Array(L.SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(L.progType, a.progType, true);
  v.setUint32(L.insnCnt, a.insnCnt, true);
  v.setBigUint64(L.insns, a.insns, true);
  v.setBigUint64(L.license, a.license, true);
  v.setUint32(L.logLevel, a.logLevel, true);
  v.setUint32(L.logSize, a.logSize, true);
  v.setBigUint64(L.logBuf, a.logBuf, true);
  const name = new TextEncoder().encode(a.name);
  if (name.byteLength > BPF_OBJ_NAME_MAX || !/^[A-Za-z0-9_.]*$/.test(a.name)) {
    throw new RangeError(`program name ${JSON.stringify(a.name)}: at most 15 of [A-Za-z0-9_.]`);
  }
  out.set(name, L.progName);
  v.setUint32(L.expectedAttachType, a.expectedAttachType, true);
  return out;
}

/** Values of a BPF_PROG_ATTACH / BPF_PROG_DETACH attr. */
export interface ProgAttachAttr {
  /** The cgroup directory's fd. */
  targetFd: number;
  /** The program's fd. */
  progFd: number;
  /** `enum bpf_attach_type`. */
  attachType: number;
  /** BPF_F_* attach flags (0 for detach). */
  flags: number;
}

/** Encodes the BPF_PROG_ATTACH / BPF_PROG_DETACH attr. */
export function encodeProgAttachAttr(a: ProgAttachAttr): Uint8Array {
  const L = PROG_ATTACH_ATTR;
  const out = new Uint8Array(L.SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(L.targetFd, a.targetFd, true);
  v.setUint32(L.attachBpfFd, a.progFd, true);
  v.setUint32(L.attachType, a.attachType, true);
  v.setUint32(L.attachFlags, a.flags, true);
  return out;
}

/** Encodes the BPF_PROG_QUERY attr for `capacity` ids at address `ids`. */
export function encodeProgQueryAttr(
  a: { targetFd: number; attachType: number; ids: bigint; capacity: number },
): Uint8Array {
  const L = PROG_QUERY_ATTR;
  const out = new Uint8Array(L.SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(L.targetFd, a.targetFd, true);
  v.setUint32(L.attachType, a.attachType, true);
  v.setBigUint64(L.progIds, a.ids, true);
  v.setUint32(L.progCnt, a.capacity, true);
  return out;
}

function bpf(cmd: number, attr: Uint8Array): number {
  return rawSyscall(SYS.bpf, cmd, attr, attr.byteLength);
}

const CMD_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(BPF_CMD).map(([k, n]) => [n, `BPF_${k}`]),
);

function fail(cmd: number, r: number, subject: string): never {
  const what = subject === "" ? CMD_NAME[cmd]! : `${CMD_NAME[cmd]} ${subject}`;
  throw new SyscallError("bpf", -r, what);
}

/** A program the verifier (or the kernel) refused, with the verifier's log. */
export class BpfLoadError extends SyscallError {
  override name = "BpfLoadError";
  /** The whole verifier log ("" when the kernel wrote none). */
  readonly log: string;

  constructor(errno: number, subject: string, log: string) {
    super("bpf", errno, subject);
    this.log = log;
  }
}

/** The last `n` non-empty lines of a verifier log, joined with " | ". */
export function logTail(log: string, n = 6): string {
  return log.split("\n").map((l) => l.trim()).filter((l) => l !== "").slice(-n).join(" | ");
}

/** Options of {@linkcode progLoad}. */
export interface ProgLoadOptions {
  /** `enum bpf_prog_type`, e.g. {@linkcode BPF_PROG_TYPE_CGROUP_DEVICE}. */
  type: number;
  /** The instructions (`struct bpf_insn` bytes, see {@linkcode encodeInsns}). */
  insns: Uint8Array;
  /** License, as MODULE_LICENSE spells it ("GPL", "Apache", "MIT"). */
  license: string;
  /** Program name shown by `bpftool prog` and {@linkcode progInfo} (default none). */
  name?: string;
  /** `enum bpf_attach_type` the program is meant for (default 0). */
  expectedAttachType?: number;
  /** Largest verifier log to collect on rejection (default 16 MiB). */
  maxLogSize?: number;
}

/**
 * BPF_PROG_LOAD: loads a program and returns its fd (close-on-exec). It is first loaded
 * without a log; when that fails it is loaded again with a verifier log (growing the buffer
 * while the kernel says ENOSPC), and the error carries the log's last lines.
 *
 * @throws {BpfLoadError} `bpf BPF_PROG_LOAD ... (verifier: "..."): EACCES (Permission denied)`
 * @example
 * ```ts
 * const fd = progLoad({ type: BPF_PROG_TYPE_CGROUP_DEVICE, insns, license: "Apache" });
 * ```
 */
export function progLoad(o: ProgLoadOptions): number {
  const insnCnt = o.insns.byteLength / BPF_INSN_SIZE;
  if (!Number.isInteger(insnCnt) || insnCnt === 0) {
    throw new RangeError(`${o.insns.byteLength} bytes is not a program of whole instructions`);
  }
  const license = cstr(o.license);
  const base = {
    progType: o.type,
    insnCnt,
    insns: addressOf(o.insns),
    license: addressOf(license),
    name: o.name ?? "",
    expectedAttachType: o.expectedAttachType ?? 0,
  };
  const first = bpf(
    BPF_CMD.PROG_LOAD,
    encodeProgLoadAttr({ ...base, logLevel: 0, logSize: 0, logBuf: 0n }),
  );
  if (first >= 0) return first;
  const subject = `BPF_PROG_LOAD program ${
    JSON.stringify(o.name ?? "")
  } of ${insnCnt} instructions`;
  // EPERM and friends are not the verifier's: no log to collect
  if (first !== -13 && first !== -22 && first !== -7) {
    throw new BpfLoadError(-first, subject, "");
  }
  const max = o.maxLogSize ?? 1 << 24;
  let size = 1 << 16;
  for (;;) {
    const log = new Uint8Array(size);
    const r = bpf(
      BPF_CMD.PROG_LOAD,
      encodeProgLoadAttr({ ...base, logLevel: 1, logSize: size, logBuf: addressOf(log) }),
    );
    if (r >= 0) return r; // accepted this time
    if (r === -28 && size < max) {
      size *= 4;
      continue;
    }
    const end = log.indexOf(0);
    const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.byteLength : end));
    const tail = logTail(text);
    const errno = r === -28 ? -first : -r; // a log too long to keep says ENOSPC
    throw new BpfLoadError(
      errno,
      tail === "" ? subject : `${subject} (verifier: ${JSON.stringify(tail)})`,
      text,
    );
  }
}

/** Options of {@linkcode progAttach}. */
export interface ProgAttachOptions {
  /** The target's fd: a cgroup directory opened O_RDONLY|O_DIRECTORY. */
  targetFd: number;
  /** The program's fd. */
  progFd: number;
  /** `enum bpf_attach_type`, e.g. {@linkcode BPF_CGROUP_DEVICE}. */
  attachType: number;
  /** BPF_F_* flags (default {@linkcode BPF_F_ALLOW_MULTI}). */
  flags?: number;
}

/**
 * BPF_PROG_ATTACH: attaches a loaded program to a cgroup. The attachment keeps the program
 * alive: its fd may be closed afterwards.
 *
 * @throws {SyscallError} `bpf BPF_PROG_ATTACH ...: EBADF (Bad file descriptor)` when the target
 * is not a cgroup2 directory
 */
export function progAttach(o: ProgAttachOptions): void {
  const flags = o.flags ?? BPF_F_ALLOW_MULTI;
  const r = bpf(BPF_CMD.PROG_ATTACH, encodeProgAttachAttr({ ...o, flags }));
  if (r < 0) fail(BPF_CMD.PROG_ATTACH, r, `type ${o.attachType} flags ${flags}`);
}

/** Options of {@linkcode progDetach}. */
export type ProgDetachOptions = Omit<ProgAttachOptions, "flags">;

/**
 * BPF_PROG_DETACH: detaches one program (named by its fd) from a cgroup.
 *
 * @throws {SyscallError} ENOENT when that program is not attached there
 */
export function progDetach(o: ProgDetachOptions): void {
  const r = bpf(BPF_CMD.PROG_DETACH, encodeProgAttachAttr({ ...o, flags: 0 }));
  if (r < 0) fail(BPF_CMD.PROG_DETACH, r, `type ${o.attachType}`);
}

/** What {@linkcode progQuery} found. */
export interface ProgQueryResult {
  /** The cgroup's attach flags for that type (BPF_F_ALLOW_MULTI, ...; 0 when none). */
  attachFlags: number;
  /** Ids of the programs attached directly to the cgroup, in run order. */
  ids: number[];
}

/**
 * BPF_PROG_QUERY: the programs of one attach type attached to a cgroup (not those inherited
 * from its ancestors).
 */
export function progQuery(targetFd: number, attachType: number): ProgQueryResult {
  let capacity = 64;
  for (let attempt = 0; attempt < 8; attempt++) {
    const ids = new Uint32Array(capacity);
    const idBytes = new Uint8Array(ids.buffer);
    const attr = encodeProgQueryAttr({ targetFd, attachType, ids: addressOf(idBytes), capacity });
    const r = bpf(BPF_CMD.PROG_QUERY, attr);
    const v = new DataView(attr.buffer);
    const count = v.getUint32(PROG_QUERY_ATTR.progCnt, true);
    if (r === -28 && count > capacity) {
      capacity = count;
      continue;
    }
    if (r < 0) fail(BPF_CMD.PROG_QUERY, r, `type ${attachType}`);
    return {
      attachFlags: v.getUint32(PROG_QUERY_ATTR.attachFlags, true),
      ids: [...ids.subarray(0, Math.min(count, capacity))],
    };
  }
  throw new SyscallError("bpf", 28, `${CMD_NAME[BPF_CMD.PROG_QUERY]} type ${attachType}`);
}

/**
 * BPF_PROG_GET_FD_BY_ID: an fd of a loaded program (close it with closeFd).
 *
 * @throws {SyscallError} ENOENT when no program has that id any more
 */
export function progGetFdById(id: number): number {
  const attr = new Uint8Array(GET_FD_BY_ID_ATTR.SIZE);
  new DataView(attr.buffer).setUint32(GET_FD_BY_ID_ATTR.id, id, true);
  const r = bpf(BPF_CMD.PROG_GET_FD_BY_ID, attr);
  if (r < 0) fail(BPF_CMD.PROG_GET_FD_BY_ID, r, `id ${id}`);
  return r;
}

/** The identity of a loaded program. */
export interface ProgInfo {
  /** `enum bpf_prog_type`. */
  type: number;
  /** Its id. */
  id: number;
  /** Hash of its instructions, 16 hex digits (as `bpftool prog` prints it). */
  tag: string;
  /** Its name, as given at load time. */
  name: string;
}

/** Decodes the first fields of `struct bpf_prog_info`. */
export function decodeProgInfo(buf: Uint8Array): ProgInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = [...buf.subarray(PROG_INFO.tag, PROG_INFO.tag + 8)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const raw = buf.subarray(PROG_INFO.name, PROG_INFO.name + 16);
  const end = raw.indexOf(0);
  return {
    type: v.getUint32(PROG_INFO.type, true),
    id: v.getUint32(PROG_INFO.id, true),
    tag,
    name: new TextDecoder().decode(raw.subarray(0, end < 0 ? raw.byteLength : end)),
  };
}

/** BPF_OBJ_GET_INFO_BY_FD for a program: its type, id, tag and name. */
export function progInfo(progFd: number): ProgInfo {
  const info = new Uint8Array(PROG_INFO.SIZE);
  const attr = new Uint8Array(GET_INFO_ATTR.SIZE);
  const v = new DataView(attr.buffer);
  v.setUint32(GET_INFO_ATTR.bpfFd, progFd, true);
  v.setUint32(GET_INFO_ATTR.infoLen, info.byteLength, true);
  v.setBigUint64(GET_INFO_ATTR.info, addressOf(info), true);
  const r = bpf(BPF_CMD.OBJ_GET_INFO_BY_FD, attr);
  if (r < 0) fail(BPF_CMD.OBJ_GET_INFO_BY_FD, r, `fd ${progFd}`);
  return decodeProgInfo(info);
}

/** Runs fn with an fd of the program `id`, closed afterwards; undefined if it is gone. */
export function withProgById<T>(id: number, fn: (fd: number) => T): T | undefined {
  let fd: number;
  try {
    fd = progGetFdById(id);
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return fn(fd);
  } finally {
    closeFd(fd);
  }
}
