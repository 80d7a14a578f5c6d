/**
 * The syscall program: a list of system calls that the clone child executes with the
 * run_program routine (ffi/asm/x86_64.S) between clone and execve, where no JavaScript can run.
 *
 * A program is data. It is built here in plain TypeScript (so it can be printed and unit
 * tested without root), then laid out into native memory by `encode()`.
 * @module
 */

/** Flags of a record, as run_program reads them. */
export const F_IGNORE = 1;
/** Skip `skip` records after a success. */
export const F_SKIP_ON_OK = 2;
/** Skip `skip` records after a tolerated error. */
export const F_SKIP_ON_ERR = 4;
/** A result of 0 is a failure (reported as ECANCELED): a read that must not see EOF. */
export const F_ZERO_FAILS = 8;

/** Size of one record in bytes. */
export const RECORD_SIZE = 72;
/** Size of the program header in bytes. */
export const HEADER_SIZE = 16;

/** One argument of a step. */
export type StepArg =
  | { imm: bigint }
  | { ref: number }
  | { str: string }
  | { strv: string[] }
  | { bytes: Uint8Array }
  | { blob: Blob }
  | { reportFd: true }
  | { resultAddr: number };

/**
 * Bytes that contain pointers into themselves (a msghdr with its iovec and control buffer):
 * `build` is called with the address the bytes will have in the child.
 */
export class Blob {
  constructor(readonly size: number, readonly build: (addr: bigint) => Uint8Array) {}
}

/** An argument that stands for the fd of the report pipe (known only when the program runs). */
export const REPORT_FD: unique symbol = Symbol("REPORT_FD");

/**
 * The address of an earlier step's result slot in the running program (the routine writes each
 * raw result there): lets a step pass that result to the kernel by pointer (write it to a pipe).
 */
export class ResultAddr {
  constructor(readonly index: number) {}
}

/** A NULL-terminated array of C strings (argv, envp). */
export class StrV {
  constructor(readonly items: string[]) {}
}

/** Options of a step. */
export interface StepOptions {
  /** errnos that are tolerated (at most two). */
  ok?: number[];
  /** Every error is tolerated. */
  ignoreErrors?: boolean;
  /** On success, continue at this label. */
  onOkGoto?: string;
  /** On a tolerated error, continue at this label. */
  onErrGoto?: string;
  /** A zero result is a failure. */
  zeroFails?: boolean;
  /** What the call is about, for the error message: a quoted path, a name. */
  subject?: string;
  /** The phase this step belongs to ("namespaces", "rootfs", "process"...). */
  phase?: string;
  /** Whole error messages for particular errnos, replacing the generic one. */
  messages?: Record<number, string>;
}

/** One system call of a program. */
export interface Step {
  /** Syscall name, e.g. "mount". */
  name: string;
  /** Syscall number. */
  nr: number;
  /** Up to six arguments. */
  args: StepArg[];
  /** Options. */
  opts: StepOptions;
  /** Labels that point at this step. */
  labels: string[];
}

/** A value an argument can be built from. */
export type ArgInput =
  | number
  | bigint
  | string
  | Uint8Array
  | Ref
  | ResultAddr
  | StrV
  | Blob
  | typeof REPORT_FD
  | null;

/** The result of an earlier step, usable as an argument (an fd, typically). */
export class Ref {
  constructor(readonly index: number) {}
}

function toArg(a: ArgInput): StepArg {
  if (a === null) return { imm: 0n };
  if (typeof a === "number") return { imm: BigInt.asUintN(64, BigInt(a)) };
  if (typeof a === "bigint") return { imm: BigInt.asUintN(64, a) };
  if (typeof a === "string") return { str: a };
  if (a instanceof Ref) return { ref: a.index };
  if (a instanceof ResultAddr) return { resultAddr: a.index };
  if (a instanceof StrV) return { strv: a.items };
  if (a instanceof Blob) return { blob: a };
  if (a === REPORT_FD) return { reportFd: true };
  return { bytes: a };
}

/**
 * Builds a syscall program.
 *
 * @example
 * ```ts
 * const p = new Program();
 * p.call("sethostname", SYS.sethostname, ["box", 3], { subject: '"box"' });
 * const fd = p.call("openat", SYS.openat, [AT_FDCWD, "/proc", O_PATH]);
 * p.call("fchdir", SYS.fchdir, [fd]);
 * ```
 */
export class Program {
  /** The steps in order. */
  readonly steps: Step[] = [];
  #pendingLabels: string[] = [];
  /** Label → index of the step it names. */
  #labels = new Map<string, number>();

  /** Appends a system call and returns a reference to its result. */
  call(name: string, nr: number, args: ArgInput[], opts: StepOptions = {}): Ref {
    if (args.length > 6) throw new Error(`${name}: more than six arguments`);
    if ((opts.ok?.length ?? 0) > 2) throw new Error(`${name}: at most two tolerated errnos`);
    const idx = this.steps.length;
    const converted: StepArg[] = [];
    for (const a of args) {
      if ((a instanceof Ref || a instanceof ResultAddr) && a.index >= idx) {
        throw new Error(`${name}: refers to a later step`);
      }
      converted.push(toArg(a));
    }
    for (const l of this.#pendingLabels) this.#labels.set(l, idx);
    this.steps.push({ name, nr, args: converted, opts, labels: this.#pendingLabels });
    this.#pendingLabels = [];
    return new Ref(idx);
  }

  /** Names the next step, as a target of onOkGoto / onErrGoto. */
  label(name: string): void {
    this.#pendingLabels.push(name);
  }

  /** The index of the step a label names (the end of the program if nothing follows it). */
  indexOf(label: string): number {
    if (this.#pendingLabels.includes(label)) return this.steps.length;
    const i = this.#labels.get(label);
    if (i === undefined) throw new Error(`unknown label "${label}"`);
    return i;
  }

  /** Size of the native image: header, records, then string and buffer data. */
  encodedSize(): number {
    let size = HEADER_SIZE + RECORD_SIZE * this.steps.length;
    for (const s of this.steps) {
      for (const a of s.args) {
        if ("imm" in a || "ref" in a) continue;
        if ("str" in a) size += align8(utf8Length(a.str) + 1);
        else if ("bytes" in a) size += align8(a.bytes.byteLength);
        else if ("blob" in a) size += align8(a.blob.size);
        else if ("strv" in a) {
          size += 8 * (a.strv.length + 1);
          for (const x of a.strv) size += align8(utf8Length(x) + 1);
        }
      }
    }
    return size;
  }

  /**
   * Lays the program out into `out` as if it lived at address `base`, with `reportFd` as the
   * fd that receives the failure report. (Addresses are computed as numbers: user-space
   * addresses are below 2^47.)
   */
  encode(out: Uint8Array, base: bigint, reportFd: number): void {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const enc = new TextEncoder();
    const at = Number(base);
    const put = (off: number, v: number) => {
      dv.setUint32(off, v % 0x1_0000_0000, true);
      dv.setUint32(off + 4, Math.floor(v / 0x1_0000_0000), true);
    };
    /** Writes a NUL-terminated string at `data`; returns its aligned size. */
    const putStr = (str: string, data: number) => {
      const n = enc.encodeInto(str, out.subarray(data)).written;
      out[data + n] = 0;
      return align8(n + 1);
    };
    put(0, this.steps.length);
    put(8, reportFd);
    let data = HEADER_SIZE + RECORD_SIZE * this.steps.length;
    const steps = this.steps;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      const off = HEADER_SIZE + RECORD_SIZE * i;
      put(off, s.nr);
      let refs = 0;
      for (let j = 0; j < 6; j++) {
        const a = s.args[j];
        const slot = off + 8 + 8 * j;
        if (a === undefined) put(slot, 0);
        else if ("imm" in a) dv.setBigUint64(slot, a.imm, true);
        else if ("ref" in a) {
          put(slot, a.ref);
          refs |= 1 << j;
        } else if ("str" in a) {
          put(slot, at + data);
          data += putStr(a.str, data);
        } else if ("bytes" in a) {
          out.set(a.bytes, data);
          put(slot, at + data);
          data += align8(a.bytes.byteLength);
        } else if ("reportFd" in a) put(slot, reportFd);
        else if ("resultAddr" in a) put(slot, at + HEADER_SIZE + RECORD_SIZE * a.resultAddr + 64);
        else if ("blob" in a) {
          const b = a.blob.build(base + BigInt(data));
          if (b.byteLength > a.blob.size) throw new Error(`${s.name}: blob larger than declared`);
          out.set(b, data);
          put(slot, at + data);
          data += align8(a.blob.size);
        } else {
          const table = data;
          data += 8 * (a.strv.length + 1);
          a.strv.forEach((x, k) => {
            put(table + 8 * k, at + data);
            data += putStr(x, data);
          });
          put(table + 8 * a.strv.length, 0);
          put(slot, at + table);
        }
      }
      let flags = 0;
      let skip = 0;
      if (s.opts.ignoreErrors) flags |= F_IGNORE;
      if (s.opts.zeroFails) flags |= F_ZERO_FAILS;
      if (s.opts.onOkGoto !== undefined) {
        flags |= F_SKIP_ON_OK;
        skip = this.#skipTo(i, s.opts.onOkGoto);
      }
      if (s.opts.onErrGoto !== undefined) {
        flags |= F_SKIP_ON_ERR;
        const k = this.#skipTo(i, s.opts.onErrGoto);
        if (s.opts.onOkGoto !== undefined && k !== skip) {
          throw new Error(`${s.name}: onOkGoto and onErrGoto must name the same place`);
        }
        skip = k;
      }
      dv.setUint8(off + 56, refs);
      dv.setUint8(off + 57, flags);
      dv.setUint16(off + 58, s.opts.ok?.[0] ?? 0, true);
      dv.setUint16(off + 60, s.opts.ok?.[1] ?? 0, true);
      dv.setUint16(off + 62, skip, true);
      put(off + 64, 0);
    }
  }

  #skipTo(from: number, label: string): number {
    const to = this.indexOf(label);
    if (to <= from) throw new Error(`label "${label}" must come after step ${from}`);
    return to - from - 1;
  }

  /** One line per step, for `runts debug plan` and error messages. */
  describe(): string[] {
    return this.steps.map((s, i) => `${String(i).padStart(3)} ${describeStep(s)}`);
  }
}

/** The length of `s` in UTF-8 bytes. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(s.charCodeAt(i + 1))) {
      n += 2; // a surrogate pair: 4 bytes for 2 code units
      i++;
    } else n += 2; // (a lone surrogate is encoded as U+FFFD: 3 bytes)
  }
  return n;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** A step as one readable line: `mount(...)  "proc" on "/proc"`. */
export function describeStep(s: Step): string {
  const args = s.args.map((a) => {
    if ("imm" in a) return formatImm(a.imm);
    if ("ref" in a) return `$${a.ref}`;
    if ("str" in a) return JSON.stringify(a.str);
    if ("strv" in a) return JSON.stringify(a.strv);
    if ("reportFd" in a) return "<report fd>";
    if ("blob" in a) return `<${a.blob.size} bytes>`;
    if ("resultAddr" in a) return `&$${a.resultAddr}`;
    return `<${a.bytes.byteLength} bytes>`;
  });
  const extra: string[] = [];
  if (s.opts.ok?.length) extra.push(`ok=${s.opts.ok.join(",")}`);
  if (s.opts.ignoreErrors) extra.push("errors ignored");
  if (s.opts.onOkGoto) extra.push(`ok→${s.opts.onOkGoto}`);
  if (s.opts.onErrGoto) extra.push(`err→${s.opts.onErrGoto}`);
  const labels = s.labels.length ? `${s.labels.join(",")}: ` : "";
  return `${labels}${s.name}(${args.join(", ")})${
    extra.length ? "  [" + extra.join(" ") + "]" : ""
  }`;
}

function formatImm(v: bigint): string {
  const signed = BigInt.asIntN(64, v);
  if (signed < 0n) return String(signed);
  return v > 4096n ? `0x${v.toString(16)}` : String(v);
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
