/**
 * libseccomp through Deno.dlopen: compiles seccomp filters into classic BPF in the parent, the
 * way runc does (it links libseccomp too), so architectures, multiplexed syscalls (socketcall,
 * ipc), 64-bit argument comparisons and unknown names behave exactly as with runc. Loading the
 * bytes is a separate, raw `seccomp(2)` call ({@linkcode loadSeccompFilter} here, or the
 * container's init program).
 *
 * The library is opened lazily, on first use, never at import time. libseccomp functions return
 * `-errno` (errno itself is not used), so nothing thread-local is read.
 * @module
 */
import { SyscallError } from "./error.ts";
import { addressOf } from "./memory.ts";
import { closeFd } from "./process.ts";
import { preadExact } from "./socket.ts";
import { cstr, rawSyscall, sys } from "./syscall.ts";
import { SYS } from "./sysno_x86_64.ts";

const SYMBOLS = {
  // scmp_filter_ctx seccomp_init(uint32_t def_action);
  seccomp_init: { parameters: ["u32"], result: "pointer" },
  // void seccomp_release(scmp_filter_ctx ctx);
  seccomp_release: { parameters: ["pointer"], result: "void" },
  // const struct scmp_version *seccomp_version(void);   (struct { uint major, minor, micro; })
  seccomp_version: { parameters: [], result: "pointer" },
  // unsigned int seccomp_api_get(void);
  seccomp_api_get: { parameters: [], result: "u32" },
  // uint32_t seccomp_arch_resolve_name(const char *arch_name);   (0 when unknown)
  seccomp_arch_resolve_name: { parameters: ["buffer"], result: "u32" },
  // uint32_t seccomp_arch_native(void);
  seccomp_arch_native: { parameters: [], result: "u32" },
  // int seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token);
  //   (0 when present, -EEXIST when absent)
  seccomp_arch_exist: { parameters: ["pointer", "u32"], result: "i32" },
  // int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
  seccomp_arch_add: { parameters: ["pointer", "u32"], result: "i32" },
  // int seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token);
  seccomp_arch_remove: { parameters: ["pointer", "u32"], result: "i32" },
  // int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);
  //   (__NR_SCMP_ERROR = -1 when unknown; other negatives are libseccomp pseudo-syscalls)
  seccomp_syscall_resolve_name_arch: { parameters: ["u32", "buffer"], result: "i32" },
  // int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
  //                            unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
  seccomp_rule_add_array: {
    parameters: ["pointer", "u32", "i32", "u32", "buffer"],
    result: "i32",
  },
  // int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
  seccomp_attr_set: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  // int seccomp_attr_get(const scmp_filter_ctx ctx, enum scmp_filter_attr attr,
  //                      uint32_t *value);
  seccomp_attr_get: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  // int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
  seccomp_export_bpf: { parameters: ["pointer", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The libseccomp symbols, opened on first call. */
function scmp(): Symbols {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen("libseccomp.so.2", SYMBOLS);
    } catch (e) {
      throw new Error("seccomp: libseccomp.so.2 not found (install libseccomp2)", { cause: e });
    }
  }
  return lib.symbols;
}

/** Whether libseccomp.so.2 can be opened (for tests and `runts features`). */
export function libseccompAvailable(): boolean {
  try {
    scmp();
    return true;
  } catch {
    return false;
  }
}

// ---- Constants of <seccomp.h> (libseccomp 2.5/2.6) ----

/** `SCMP_ACT_*` filter actions (libseccomp's values are the kernel's SECCOMP_RET_*). */
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  KILL: 0x00000000,
  TRAP: 0x00030000,
  NOTIFY: 0x7fc00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** SCMP_ACT_ERRNO(errno). */
export function actErrno(errno: number): number {
  return (0x00050000 | (errno & 0xffff)) >>> 0;
}

/** SCMP_ACT_TRACE(msg). */
export function actTrace(msg: number): number {
  return (0x7ff00000 | (msg & 0xffff)) >>> 0;
}

/** `enum scmp_compare`. */
export const SCMP_CMP = {
  NE: 1,
  LT: 2,
  LE: 3,
  EQ: 4,
  GE: 5,
  GT: 6,
  MASKED_EQ: 7,
} as const;

/** `enum scmp_filter_attr`. `CTL_WAITKILL` exists from libseccomp 2.6 on. */
export const SCMP_FLTATR = {
  ACT_DEFAULT: 1,
  ACT_BADARCH: 2,
  CTL_NNP: 3,
  CTL_TSYNC: 4,
  API_TSKIP: 5,
  CTL_LOG: 6,
  CTL_SSB: 7,
  CTL_OPTIMIZE: 8,
  API_SYSRAWRC: 9,
  CTL_WAITKILL: 10,
} as const;

/** `__NR_SCMP_ERROR`: what the resolve functions return for an unknown name. */
export const NR_SCMP_ERROR = -1;

/** Native architecture token for the functions that take one (`SCMP_ARCH_NATIVE`). */
export const SCMP_ARCH_NATIVE = 0;

// ---- struct scmp_arg_cmp ----

/**
 * struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; scmp_datum_t datum_a;
 * scmp_datum_t datum_b; } — u32, u32, u64, u64: 24 bytes on x86_64 and aarch64.
 */
export const SCMP_ARG_CMP = { SIZE: 24, arg: 0, op: 4, datumA: 8, datumB: 16 } as const;

/** One argument comparison of a rule. For MASKED_EQ, `datumA` is the mask, `datumB` the value. */
export interface ArgCmp {
  /** Argument index, 0..5. */
  arg: number;
  /** `SCMP_CMP.*`. */
  op: number;
  /** First operand (u64). */
  datumA: bigint;
  /** Second operand (u64; the compared value of MASKED_EQ). */
  datumB: bigint;
}

/** Encodes an array of struct scmp_arg_cmp (host byte order: little endian). */
export function encodeArgCmps(cmps: readonly ArgCmp[]): Uint8Array {
  const b = new Uint8Array(cmps.length * SCMP_ARG_CMP.SIZE);
  const dv = new DataView(b.buffer);
  cmps.forEach((c, i) => {
    const o = i * SCMP_ARG_CMP.SIZE;
    dv.setUint32(o + SCMP_ARG_CMP.arg, c.arg, true);
    dv.setUint32(o + SCMP_ARG_CMP.op, c.op, true);
    dv.setBigUint64(o + SCMP_ARG_CMP.datumA, BigInt.asUintN(64, c.datumA), true);
    dv.setBigUint64(o + SCMP_ARG_CMP.datumB, BigInt.asUintN(64, c.datumB), true);
  });
  return b;
}

// ---- Library-wide functions ----

/** libseccomp's version, e.g. `{ major: 2, minor: 5, micro: 4 }`. */
export function libseccompVersion(): { major: number; minor: number; micro: number } {
  const p = scmp().seccomp_version();
  if (p === null) return { major: 0, minor: 0, micro: 0 };
  const v = new Deno.UnsafePointerView(p);
  return { major: v.getUint32(0), minor: v.getUint32(4), micro: v.getUint32(8) };
}

/** The library's version as `major.minor.micro`. */
export function libseccompVersionText(): string {
  const v = libseccompVersion();
  return `${v.major}.${v.minor}.${v.micro}`;
}

/**
 * libseccomp's API level (what both the library and the running kernel support): 3 = LOG
 * action and flag, 4 = SPEC_ALLOW flag, 5 = notify, 6 = TSYNC with notify, 7 = WAIT_KILLABLE_RECV.
 */
export function seccompApiLevel(): number {
  return scmp().seccomp_api_get();
}

/** The native architecture's token (an AUDIT_ARCH_* value, e.g. 0xc000003e on x86_64). */
export function archNative(): number {
  return scmp().seccomp_arch_native();
}

/** The token of a libseccomp architecture name (`"x86_64"`, `"aarch64"`...), 0 when unknown. */
export function archResolveName(name: string): number {
  return scmp().seccomp_arch_resolve_name(cstr(name));
}

/**
 * A syscall's number on an architecture (`SCMP_ARCH_NATIVE` by default); `NR_SCMP_ERROR` (-1)
 * when libseccomp does not know the name, another negative number for a libseccomp
 * pseudo-syscall (a call that exists on other architectures only, or through a multiplexer).
 */
export function syscallResolveName(name: string, arch: number = SCMP_ARCH_NATIVE): number {
  return scmp().seccomp_syscall_resolve_name_arch(arch >>> 0, cstr(name));
}

function check(call: string, rc: number, subject: string): number {
  if (rc < 0) throw new SyscallError(call, -rc, subject);
  return rc;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

// ---- A filter context ----

/**
 * A libseccomp filter context (`scmp_filter_ctx`). Release it with {@linkcode release} (or a
 * `using` declaration).
 *
 * @example
 * ```ts
 * using f = SeccompFilter.init(actErrno(1));
 * f.addRule(SCMP_ACT.ALLOW, syscallResolveName("getpid"), [], '"getpid"');
 * const bpf = f.exportBpf();
 * ```
 */
export class SeccompFilter {
  #ctx: Deno.PointerObject | null;

  private constructor(ctx: Deno.PointerObject) {
    this.#ctx = ctx;
  }

  /** seccomp_init(defaultAction): a filter for the native architecture. */
  static init(defaultAction: number): SeccompFilter {
    const ctx = scmp().seccomp_init(defaultAction >>> 0);
    // seccomp_init returns NULL for an invalid action or no memory, without an errno.
    if (ctx === null) {
      throw new SyscallError(
        "seccomp_init",
        22, /* EINVAL */
        `default action ${hex(defaultAction)}`,
      );
    }
    return new SeccompFilter(ctx);
  }

  #live(): Deno.PointerObject {
    if (this.#ctx === null) throw new Error("seccomp: filter used after release");
    return this.#ctx;
  }

  /** Whether the filter covers an architecture (token from {@linkcode archResolveName}). */
  hasArch(arch: number): boolean {
    return scmp().seccomp_arch_exist(this.#live(), arch >>> 0) === 0;
  }

  /** seccomp_arch_add; false when the architecture was already there. */
  addArch(arch: number, subject = hex(arch)): boolean {
    const rc = scmp().seccomp_arch_add(this.#live(), arch >>> 0);
    if (rc === -17 /* EEXIST */) return false;
    check("seccomp_arch_add", rc, subject);
    return true;
  }

  /** seccomp_arch_remove; false when the architecture was not there. */
  removeArch(arch: number, subject = hex(arch)): boolean {
    const rc = scmp().seccomp_arch_remove(this.#live(), arch >>> 0);
    if (rc === -17 /* EEXIST */) return false;
    check("seccomp_arch_remove", rc, subject);
    return true;
  }

  /**
   * seccomp_rule_add_array: `action` when `syscall` is called with all of `cmps` true.
   * `subject` names the rule in errors (e.g. `"mount" (linux.seccomp.syscalls[3])`).
   */
  addRule(action: number, syscall: number, cmps: readonly ArgCmp[], subject: string): void {
    const arr = cmps.length === 0 ? null : encodeArgCmps(cmps);
    const rc = scmp().seccomp_rule_add_array(
      this.#live(),
      action >>> 0,
      syscall | 0,
      cmps.length,
      arr,
    );
    check("seccomp_rule_add_array", rc, subject);
  }

  /** seccomp_attr_set (`SCMP_FLTATR.*`). */
  setAttr(attr: number, value: number, subject = `attribute ${attr}`): void {
    check("seccomp_attr_set", scmp().seccomp_attr_set(this.#live(), attr, value >>> 0), subject);
  }

  /** seccomp_attr_set that reports failure (unsupported attribute) instead of throwing. */
  trySetAttr(attr: number, value: number): boolean {
    return scmp().seccomp_attr_set(this.#live(), attr, value >>> 0) === 0;
  }

  /** seccomp_attr_get (`SCMP_FLTATR.*`). */
  getAttr(attr: number): number {
    const out = new Uint8Array(4);
    check(
      "seccomp_attr_get",
      scmp().seccomp_attr_get(this.#live(), attr, out),
      `attribute ${attr}`,
    );
    return new DataView(out.buffer).getUint32(0, true);
  }

  /**
   * The filter as classic BPF: an array of struct sock_filter (8 bytes each, host byte order),
   * exported through a memfd (libseccomp 2.5 has no seccomp_export_bpf_mem).
   */
  exportBpf(): Uint8Array {
    const fd = sys("memfd_create", '"seccomp-bpf"', SYS.memfd_create, cstr("seccomp-bpf"), 1);
    try {
      check("seccomp_export_bpf", scmp().seccomp_export_bpf(this.#live(), fd), "to a memfd");
      const len = sys("lseek", "memfd", SYS.lseek, fd, 0, 1 /* SEEK_CUR */);
      return preadExact(fd, len);
    } finally {
      closeFd(fd);
    }
  }

  /** seccomp_release; later calls throw. */
  release(): void {
    if (this.#ctx === null) return;
    scmp().seccomp_release(this.#ctx);
    this.#ctx = null;
  }

  /** Releases the context at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.release();
  }
}

// ---- Loading a filter (seccomp(2)) ----

/** seccomp(2) operations and flags of <linux/seccomp.h>. */
export const SECCOMP_SET_MODE_FILTER = 1;
/** `SECCOMP_FILTER_FLAG_*`. */
export const SECCOMP_FILTER_FLAG = {
  TSYNC: 1 << 0,
  LOG: 1 << 1,
  SPEC_ALLOW: 1 << 2,
  NEW_LISTENER: 1 << 3,
  TSYNC_ESRCH: 1 << 4,
  WAIT_KILLABLE_RECV: 1 << 5,
} as const;

/** struct sock_fprog { unsigned short len; struct sock_filter *filter; }: u16, 6 pad, u64. */
export const SOCK_FPROG = { SIZE: 16, len: 0, filter: 8 } as const;

/** Encodes a struct sock_fprog for a filter at address `filterAddr` of `len` instructions. */
export function encodeSockFprog(filterAddr: bigint, len: number): Uint8Array {
  const b = new Uint8Array(SOCK_FPROG.SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint16(SOCK_FPROG.len, len, true);
  dv.setBigUint64(SOCK_FPROG.filter, filterAddr, true);
  return b;
}

/**
 * Whether the kernel takes these SECCOMP_FILTER_FLAG_* bits: seccomp(SECCOMP_SET_MODE_FILTER,
 * flags, NULL) fails with EFAULT (reading the program) once the flags passed their check, with
 * EINVAL before (libseccomp probes the same way). Loads nothing.
 */
export function seccompFlagSupported(flags: number): boolean {
  return rawSyscall(SYS.seccomp, SECCOMP_SET_MODE_FILTER, flags, null) === -14; // EFAULT
}

/**
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) for the **calling thread** (all threads with
 * `SECCOMP_FILTER_FLAG.TSYNC`). The thread needs no_new_privs or CAP_SYS_ADMIN. Returns the
 * listener fd with `NEW_LISTENER`, else 0. For tests and tools; the container's init program
 * loads its filter itself.
 */
export function loadSeccompFilter(filter: Uint8Array, flags: number): number {
  if (filter.byteLength === 0 || filter.byteLength % 8 !== 0) {
    throw new Error(`seccomp: a filter is a non-empty array of 8-byte instructions`);
  }
  const prog = encodeSockFprog(addressOf(filter), filter.byteLength / 8);
  const r = rawSyscall(SYS.seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
  if (r < 0 && r > -4096) {
    throw new SyscallError("seccomp", -r, `SECCOMP_SET_MODE_FILTER flags ${hex(flags)}`);
  }
  return r;
}
