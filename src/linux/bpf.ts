/**
 * Classic BPF as seccomp uses it: instruction encoding, a small interpreter over struct
 * seccomp_data (to test filters without loading them) and names for the SECCOMP_RET_* results.
 *
 * A program is an array of struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }, 8 bytes each,
 * in host byte order (little endian on x86_64 and aarch64).
 * @module
 */

/** Size of one struct sock_filter. */
export const BPF_INSN_SIZE = 8;
/** The kernel's limit on instructions in one filter (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

// Instruction classes and fields of <linux/bpf_common.h>.
/** Load into A. */
export const BPF_LD = 0x00;
/** Load into X. */
export const BPF_LDX = 0x01;
/** Store A to scratch memory. */
export const BPF_ST = 0x02;
/** Store X to scratch memory. */
export const BPF_STX = 0x03;
/** Arithmetic on A. */
export const BPF_ALU = 0x04;
/** Jumps. */
export const BPF_JMP = 0x05;
/** Return. */
export const BPF_RET = 0x06;
/** Register transfers. */
export const BPF_MISC = 0x07;
/** 32-bit word load. */
export const BPF_W = 0x00;
/** Absolute offset into the data. */
export const BPF_ABS = 0x20;
/** Constant operand. */
export const BPF_K = 0x00;
/** Jump always. */
export const BPF_JA = 0x00;
/** Jump if equal. */
export const BPF_JEQ = 0x10;
/** Jump if greater (unsigned). */
export const BPF_JGT = 0x20;
/** Jump if greater or equal (unsigned). */
export const BPF_JGE = 0x30;
/** Jump if any bit of k is set. */
export const BPF_JSET = 0x40;

/** SECCOMP_RET_* actions (upper 16 bits of a filter's result) of <linux/seccomp.h>. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;
/** Mask of the action part of a result. */
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
/** Mask of the data part of a result (the errno of ERRNO). */
export const SECCOMP_RET_DATA = 0x0000ffff;

/** AUDIT_ARCH_* values the kernel puts in seccomp_data.arch. */
export const AUDIT_ARCH = {
  X86_64: 0xc000003e,
  I386: 0x40000003,
  AARCH64: 0xc00000b7,
  ARM: 0x40000028,
} as const;

/** The x32 ABI marks its syscall numbers with this bit (on AUDIT_ARCH_X86_64). */
export const X32_SYSCALL_BIT = 0x40000000;

/** One decoded instruction. */
export interface Insn {
  /** Opcode. */
  code: number;
  /** Jump offset when true. */
  jt: number;
  /** Jump offset when false. */
  jf: number;
  /** Constant operand. */
  k: number;
}

/** Encodes instructions into struct sock_filter bytes. */
export function encodeInsns(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * BPF_INSN_SIZE);
  const dv = new DataView(out.buffer);
  insns.forEach((x, i) => {
    const o = i * BPF_INSN_SIZE;
    if (x.jt > 255 || x.jf > 255 || x.jt < 0 || x.jf < 0) {
      throw new RangeError(`bpf: jump offset out of range at instruction ${i}`);
    }
    dv.setUint16(o, x.code, true);
    dv.setUint8(o + 2, x.jt);
    dv.setUint8(o + 3, x.jf);
    dv.setUint32(o + 4, x.k >>> 0, true);
  });
  return out;
}

/** Decodes struct sock_filter bytes. */
export function decodeInsns(filter: Uint8Array): Insn[] {
  if (filter.byteLength % BPF_INSN_SIZE !== 0) {
    throw new RangeError(`bpf: ${filter.byteLength} bytes is not a whole number of instructions`);
  }
  const dv = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const out: Insn[] = [];
  for (let o = 0; o < filter.byteLength; o += BPF_INSN_SIZE) {
    out.push({
      code: dv.getUint16(o, true),
      jt: dv.getUint8(o + 2),
      jf: dv.getUint8(o + 3),
      k: dv.getUint32(o + 4, true),
    });
  }
  return out;
}

/** A statement (no jump). */
export function stmt(code: number, k: number): Insn {
  return { code, jt: 0, jf: 0, k: k >>> 0 };
}

/** A conditional jump. */
export function jump(code: number, k: number, jt: number, jf: number): Insn {
  return { code, jt, jf, k: k >>> 0 };
}

/** What a filter sees: struct seccomp_data. */
export interface SeccompData {
  /** Syscall number (as the kernel sees it: with X32_SYSCALL_BIT for x32). */
  nr: number;
  /** AUDIT_ARCH_* of the calling ABI. */
  arch: number;
  /** Up to six arguments (missing ones are 0). */
  args?: readonly bigint[];
  /** Instruction pointer. */
  ip?: bigint;
}

/** struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]. */
export function encodeSeccompData(d: SeccompData): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, d.nr | 0, true);
  dv.setUint32(4, d.arch >>> 0, true);
  dv.setBigUint64(8, BigInt.asUintN(64, d.ip ?? 0n), true);
  for (let i = 0; i < 6; i++) {
    dv.setBigUint64(16 + 8 * i, BigInt.asUintN(64, d.args?.[i] ?? 0n), true);
  }
  return b;
}

/**
 * Runs a seccomp filter over one syscall and returns its SECCOMP_RET_* value, as the kernel
 * would. Supports the whole classic BPF instruction set that seccomp accepts; a jump or load out
 * of bounds, or running off the end, throws (the kernel's checker would reject such a program).
 *
 * @example
 * ```ts
 * const ret = runFilter(bpf, { nr: 39, arch: AUDIT_ARCH.X86_64 });
 * describeAction(ret); // "ALLOW"
 * ```
 */
export function runFilter(filter: Uint8Array, data: SeccompData): number {
  const prog = decodeInsns(filter);
  const mem = new DataView(encodeSeccompData(data).buffer);
  const scratch = new Uint32Array(16);
  let a = 0;
  let x = 0;
  let pc = 0;
  for (let steps = 0; steps <= prog.length; steps++) {
    const ins = prog[pc];
    if (ins === undefined) throw new RangeError(`bpf: pc ${pc} is outside the program`);
    const { code, k } = ins;
    pc++;
    const cls = code & 0x07;
    switch (cls) {
      case BPF_LD:
      case BPF_LDX: {
        const mode = code & 0xe0;
        let v: number;
        if (mode === BPF_ABS) {
          if ((code & 0x18) !== BPF_W || k % 4 !== 0 || k + 4 > 64) {
            throw new RangeError(`bpf: bad load of seccomp_data at offset ${k}`);
          }
          v = mem.getUint32(k, true);
        } else if (mode === 0x00) v = k; // BPF_IMM
        else if (mode === 0x60) v = scratch[k & 15]!; // BPF_MEM
        else if (mode === 0x80) v = 64; // BPF_LEN
        else throw new RangeError(`bpf: unsupported load mode 0x${code.toString(16)}`);
        if (cls === BPF_LD) a = v >>> 0;
        else x = v >>> 0;
        break;
      }
      case BPF_ST:
        scratch[k & 15] = a;
        break;
      case BPF_STX:
        scratch[k & 15] = x;
        break;
      case BPF_ALU: {
        const src = (code & 0x08) !== 0 ? x : k;
        a = alu(code & 0xf0, a, src);
        break;
      }
      case BPF_JMP: {
        const op = code & 0xf0;
        if (op === BPF_JA) {
          pc += k;
          break;
        }
        const src = (code & 0x08) !== 0 ? x : k >>> 0;
        let cond: boolean;
        if (op === BPF_JEQ) cond = a === src;
        else if (op === BPF_JGT) cond = a > src;
        else if (op === BPF_JGE) cond = a >= src;
        else if (op === BPF_JSET) cond = (a & src) !== 0;
        else throw new RangeError(`bpf: unsupported jump 0x${code.toString(16)}`);
        pc += cond ? ins.jt : ins.jf;
        break;
      }
      case BPF_RET:
        return ((code & 0x18) === 0x10 ? a : k) >>> 0; // BPF_A or BPF_K
      case BPF_MISC:
        if ((code & 0xf8) === 0x00) x = a; // BPF_TAX
        else a = x; // BPF_TXA
        break;
    }
  }
  throw new RangeError("bpf: program did not return");
}

function alu(op: number, a: number, b: number): number {
  switch (op) {
    case 0x00:
      return (a + b) >>> 0;
    case 0x10:
      return (a - b) >>> 0;
    case 0x20:
      return Math.imul(a, b) >>> 0;
    case 0x30:
      return b === 0 ? 0 : Math.floor(a / b) >>> 0;
    case 0x40:
      return (a | b) >>> 0;
    case 0x50:
      return (a & b) >>> 0;
    case 0x60:
      return b >= 32 ? 0 : (a << b) >>> 0;
    case 0x70:
      return b >= 32 ? 0 : a >>> b;
    case 0x80:
      return -a >>> 0;
    case 0x90:
      return b === 0 ? 0 : (a % b) >>> 0;
    case 0xa0:
      return (a ^ b) >>> 0;
    default:
      throw new RangeError(`bpf: unsupported ALU op 0x${op.toString(16)}`);
  }
}

/**
 * A SECCOMP_RET_* value as text: `ALLOW`, `ERRNO(1)`, `KILL_PROCESS`, `TRACE(5)`, `USER_NOTIF`...
 */
export function describeAction(ret: number): string {
  const action = (ret & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = ret & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET.KILL_PROCESS:
      return "KILL_PROCESS";
    case SECCOMP_RET.KILL_THREAD:
      return "KILL_THREAD";
    case SECCOMP_RET.TRAP:
      return data === 0 ? "TRAP" : `TRAP(${data})`;
    case SECCOMP_RET.ERRNO:
      return `ERRNO(${data})`;
    case SECCOMP_RET.USER_NOTIF:
      return "USER_NOTIF";
    case SECCOMP_RET.TRACE:
      return `TRACE(${data})`;
    case SECCOMP_RET.LOG:
      return "LOG";
    case SECCOMP_RET.ALLOW:
      return "ALLOW";
    default:
      return `UNKNOWN(0x${(ret >>> 0).toString(16)})`;
  }
}
