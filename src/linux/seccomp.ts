/**
 * `linux.seccomp` compiled into classic BPF in the parent, with libseccomp, following runc's
 * semantics (libcontainer/seccomp and specconv). The container's init program later loads the
 * bytes with `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)` as its last step before execve.
 *
 * What runc does, and so what this does:
 * - `defaultAction` and every rule's action map to libseccomp actions; SCMP_ACT_ERRNO and
 *   SCMP_ACT_TRACE default to EPERM when no errnoRet is given; SCMP_ACT_KILL is KILL_THREAD.
 * - A rule whose action (errno included) equals the default action is skipped (libseccomp
 *   refuses it with EACCES).
 * - A syscall name libseccomp does not know on the native architecture is skipped.
 * - Rules with arguments: all conditions in one rule (AND), unless two conditions test the same
 *   argument index; then each condition becomes a rule of its own (OR), as runc does.
 * - `architectures` are added to the native one (which stays); `flags` absent means
 *   SECCOMP_FILTER_FLAG_SPEC_ALLOW when the kernel supports it; SECCOMP_FILTER_FLAG_TSYNC is
 *   accepted and ignored; SCMP_ACT_NOTIFY is refused as the default action and for `write`.
 * - libseccomp's binary-tree optimisation is turned on for more than 32 rules.
 * - The -ENOSYS stub of runc's patchbpf is prepended (see {@linkcode enosysStub}).
 * @module
 */
import { E } from "./consts.ts";
import {
  actErrno,
  actTrace,
  archNative,
  archResolveName,
  type ArgCmp,
  libseccompVersionText,
  NR_SCMP_ERROR,
  SCMP_ACT,
  SCMP_CMP,
  SCMP_FLTATR,
  SECCOMP_FILTER_FLAG,
  seccompApiLevel,
  SeccompFilter,
  seccompFlagSupported,
  syscallResolveName,
} from "../../ffi/libseccomp.ts";
import { SyscallError } from "../../ffi/error.ts";
import { SpecError } from "../oci/errors.ts";
import type { LinuxSeccomp, LinuxSeccompArg } from "../oci/spec.ts";
import {
  AUDIT_ARCH,
  BPF_ABS,
  BPF_INSN_SIZE,
  BPF_JA,
  BPF_JEQ,
  BPF_JGT,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_MAXINSNS,
  BPF_RET,
  BPF_W,
  encodeInsns,
  type Insn,
  jump,
  stmt,
  X32_SYSCALL_BIT,
} from "./bpf.ts";

const EPERM = 1;

/** A compiled `linux.seccomp`, ready for `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`. */
export interface CompiledSeccomp {
  /** The program: struct sock_filter[] (8 bytes per instruction, host byte order). */
  filter: Uint8Array;
  /** SECCOMP_FILTER_FLAG_* for seccomp(2) (LOG, SPEC_ALLOW, NEW_LISTENER, WAIT_KILLABLE_RECV). */
  flags: number;
  /** Whether a rule uses SCMP_ACT_NOTIFY: `flags` has NEW_LISTENER and seccomp(2) returns a fd. */
  notify: boolean;
  /** Where to send the listener fd (`linux.seccomp.listenerPath`), with `notify`. */
  listenerPath?: string;
  /** Syscall names skipped because libseccomp does not know them on this architecture. */
  unknownSyscalls: string[];
}

/** Options of {@linkcode compileSeccomp}. */
export interface CompileSeccompOptions {
  /** Field path of the seccomp object in errors; `linux.seccomp` by default. */
  field?: string;
  /** Prepend runc's -ENOSYS stub (default true). */
  enosysStub?: boolean;
}

/** OCI `SCMP_ARCH_*` names; libseccomp's name is the lower-cased suffix (`SCMP_ARCH_X86_64`). */
const OCI_ARCHES = new Set([
  "X86",
  "X86_64",
  "X32",
  "ARM",
  "AARCH64",
  "MIPS",
  "MIPS64",
  "MIPS64N32",
  "MIPSEL",
  "MIPSEL64",
  "MIPSEL64N32",
  "PPC",
  "PPC64",
  "PPC64LE",
  "S390",
  "S390X",
  "PARISC",
  "PARISC64",
  "RISCV64",
  "LOONGARCH64",
  "M68K",
  "SH",
  "SHEB",
]);

/** libseccomp tokens that differ from the AUDIT_ARCH_* the kernel reports. */
const SCMP_ARCH_X32 = 0x4000003e;
const SCMP_ARCH_S390 = 0x00000016;
const SCMP_ARCH_S390X = 0x80000016;

const OPERATORS: Readonly<Record<string, number>> = {
  SCMP_CMP_NE: SCMP_CMP.NE,
  SCMP_CMP_LT: SCMP_CMP.LT,
  SCMP_CMP_LE: SCMP_CMP.LE,
  SCMP_CMP_EQ: SCMP_CMP.EQ,
  SCMP_CMP_GE: SCMP_CMP.GE,
  SCMP_CMP_GT: SCMP_CMP.GT,
  SCMP_CMP_MASKED_EQ: SCMP_CMP.MASKED_EQ,
};

const FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 0, // recognised and ignored, as runc
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG.LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG.SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV,
};

/** The libseccomp action of an OCI action name, or undefined when the name is unknown. */
function actionValue(name: string, errnoRet: number | undefined): number | undefined {
  switch (name) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SCMP_ACT.KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SCMP_ACT.KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SCMP_ACT.TRAP;
    case "SCMP_ACT_ERRNO":
      return actErrno(errnoRet ?? EPERM);
    case "SCMP_ACT_TRACE":
      return actTrace(errnoRet ?? EPERM);
    case "SCMP_ACT_ALLOW":
      return SCMP_ACT.ALLOW;
    case "SCMP_ACT_LOG":
      return SCMP_ACT.LOG;
    case "SCMP_ACT_NOTIFY":
      return SCMP_ACT.NOTIFY;
    default:
      return undefined;
  }
}

function checkErrno(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new SpecError(field, `must be an integer from 0 to 65535, not ${JSON.stringify(v)}`);
  }
  return v;
}

function u64(v: unknown, field: string): bigint {
  if (typeof v === "bigint" && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 64) return BigInt(v);
  throw new SpecError(field, `must be an integer from 0 to 2^64-1, not ${String(v)}`);
}

function condition(a: LinuxSeccompArg, field: string): ArgCmp {
  if (typeof a !== "object" || a === null) throw new SpecError(field, "must be an object");
  if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
    throw new SpecError(`${field}.index`, `must be between 0 and 5, not ${String(a.index)}`);
  }
  const op = OPERATORS[a.op];
  if (op === undefined) {
    throw new SpecError(`${field}.op`, `unknown operator ${JSON.stringify(a.op)}`);
  }
  return {
    arg: a.index,
    op,
    datumA: u64(a.value, `${field}.value`),
    datumB: a.valueTwo === undefined ? 0n : u64(a.valueTwo, `${field}.valueTwo`),
  };
}

/** One rule of the spec, validated and converted. */
interface Rule {
  field: string;
  names: string[];
  action: number;
  notify: boolean;
  cmps: ArgCmp[];
}

function parseRules(s: LinuxSeccomp, p: string): Rule[] {
  const rules: Rule[] = [];
  const list = s.syscalls ?? [];
  if (!Array.isArray(list)) throw new SpecError(`${p}.syscalls`, "must be an array");
  list.forEach((r, i) => {
    const f = `${p}.syscalls[${i}]`;
    if (typeof r !== "object" || r === null) throw new SpecError(f, "must be an object");
    if (!Array.isArray(r.names)) throw new SpecError(`${f}.names`, "must be an array");
    r.names.forEach((n, j) => {
      if (typeof n !== "string" || n === "") {
        throw new SpecError(`${f}.names[${j}]`, "must be a syscall name, not an empty string");
      }
    });
    const errnoRet = checkErrno(r.errnoRet, `${f}.errnoRet`);
    const action = actionValue(r.action, errnoRet);
    if (action === undefined) {
      throw new SpecError(`${f}.action`, `unknown action ${JSON.stringify(r.action)}`);
    }
    const notify = r.action === "SCMP_ACT_NOTIFY";
    if (notify) {
      // The init process writes to its parent after loading the filter (runc's rule).
      const j = r.names.indexOf("write");
      if (j >= 0) {
        throw new SpecError(`${f}.names[${j}]`, "SCMP_ACT_NOTIFY cannot be used for write");
      }
    }
    const args = r.args ?? [];
    if (!Array.isArray(args)) throw new SpecError(`${f}.args`, "must be an array");
    const cmps = args.map((a, j) => condition(a, `${f}.args[${j}]`));
    rules.push({ field: f, names: r.names, action, notify, cmps });
  });
  return rules;
}

function archToken(name: unknown, field: string): number {
  const m = typeof name === "string" ? /^SCMP_ARCH_([A-Z0-9_]+)$/.exec(name) : null;
  if (m === null || !OCI_ARCHES.has(m[1]!)) {
    throw new SpecError(field, `unknown architecture ${JSON.stringify(name)}`);
  }
  const token = archResolveName(m[1]!.toLowerCase());
  if (token === 0) {
    throw new SpecError(
      field,
      `architecture ${JSON.stringify(name)} is not supported by libseccomp ` +
        libseccompVersionText(),
    );
  }
  return token >>> 0;
}

/**
 * Compiles `linux.seccomp` into a seccomp BPF program and the flags to load it with.
 * Throws a SpecError naming the field for a bad profile, a SyscallError naming the libseccomp
 * call and the rule when libseccomp refuses one.
 *
 * @example
 * ```ts
 * const c = compileSeccomp({
 *   defaultAction: "SCMP_ACT_ERRNO",
 *   syscalls: [{ names: ["read", "write", "exit_group"], action: "SCMP_ACT_ALLOW" }],
 * });
 * // c.filter: sock_filter[] bytes; c.flags: SECCOMP_FILTER_FLAG_SPEC_ALLOW (flags absent)
 * ```
 */
export function compileSeccomp(
  s: LinuxSeccomp,
  opts: CompileSeccompOptions = {},
): CompiledSeccomp {
  const p = opts.field ?? "linux.seccomp";
  const defaultErrno = checkErrno(s.defaultErrnoRet, `${p}.defaultErrnoRet`);
  const defaultAction = actionValue(s.defaultAction, defaultErrno);
  if (defaultAction === undefined) {
    throw new SpecError(`${p}.defaultAction`, `unknown action ${JSON.stringify(s.defaultAction)}`);
  }
  if (s.defaultAction === "SCMP_ACT_NOTIFY") {
    throw new SpecError(`${p}.defaultAction`, "SCMP_ACT_NOTIFY cannot be the default action");
  }
  const rules = parseRules(s, p);
  const archs = (s.architectures ?? []).map((a, i) => archToken(a, `${p}.architectures[${i}]`));

  // Flags for seccomp(2). libseccomp's own flag attributes only matter to seccomp_load, which
  // is not used: each flag is checked against the kernel instead.
  let flags = 0;
  let waitKill = false;
  if (s.flags === undefined) {
    // runc's default (specconv): SPEC_ALLOW when the kernel has it.
    if (seccompFlagSupported(SECCOMP_FILTER_FLAG.SPEC_ALLOW)) {
      flags |= SECCOMP_FILTER_FLAG.SPEC_ALLOW;
    }
  } else {
    s.flags.forEach((name, i) => {
      const bit = FLAGS[name];
      if (bit === undefined) {
        throw new SpecError(`${p}.flags[${i}]`, `unknown flag ${JSON.stringify(name)}`);
      }
      const probe = bit === SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV
        ? bit | SECCOMP_FILTER_FLAG.NEW_LISTENER
        : bit;
      if (bit !== 0 && !seccompFlagSupported(probe)) {
        throw new SpecError(`${p}.flags[${i}]`, `${name} is not supported by this kernel`);
      }
      if (bit === SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV) waitKill = true;
      else flags |= bit;
    });
  }

  const notify = rules.some((r) => r.notify && r.names.length > 0);
  if (notify) {
    if (seccompApiLevel() < 6) {
      throw new SpecError(
        p,
        "SCMP_ACT_NOTIFY needs libseccomp >= 2.5.0 and Linux >= 5.7 (API level 6, have " +
          `${seccompApiLevel()})`,
      );
    }
    if (s.listenerPath === undefined || s.listenerPath === "") {
      throw new SpecError(`${p}.listenerPath`, "must be set when a rule uses SCMP_ACT_NOTIFY");
    }
    flags |= SECCOMP_FILTER_FLAG.NEW_LISTENER;
    // The kernel takes WAIT_KILLABLE_RECV with NEW_LISTENER only; it means nothing without.
    if (waitKill) flags |= SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV;
  }

  const unknownSyscalls: string[] = [];
  let program: Uint8Array;
  const filter = SeccompFilter.init(defaultAction);
  try {
    archs.forEach((a, i) => filter.addArch(a, `${p}.architectures[${i}]`));
    filter.setAttr(SCMP_FLTATR.CTL_NNP, 0, "SCMP_FLTATR_CTL_NNP"); // no_new_privs is separate
    filter.setAttr(SCMP_FLTATR.CTL_TSYNC, 0, "SCMP_FLTATR_CTL_TSYNC");
    filter.trySetAttr(SCMP_FLTATR.API_TSKIP, 1);
    let added = 0;
    for (const r of rules) {
      if (r.action === defaultAction) continue; // libseccomp refuses it; runc skips it
      for (const name of r.names) {
        const nr = syscallResolveName(name);
        if (nr === NR_SCMP_ERROR) {
          if (!unknownSyscalls.includes(name)) unknownSyscalls.push(name);
          continue;
        }
        const subject = `${JSON.stringify(name)} (${r.field})`;
        try {
          const indexes = r.cmps.map((c) => c.arg);
          if (new Set(indexes).size === indexes.length) {
            filter.addRule(r.action, nr, r.cmps, subject);
            added++;
          } else {
            // runc: conditions on the same argument become separate rules (OR, not AND).
            for (const c of r.cmps) filter.addRule(r.action, nr, [c], subject);
            added += r.cmps.length;
          }
        } catch (e) {
          if (e instanceof SyscallError) e.wrap("seccomp");
          throw e;
        }
      }
    }
    // runc: binary tree for longer rule sets (libseccomp <= 2.5.4 misbehaves with 0 rules).
    if (added > 32) filter.trySetAttr(SCMP_FLTATR.CTL_OPTIMIZE, 2);
    program = filter.exportBpf();
  } finally {
    filter.release();
  }

  const patch = opts.enosysStub === false || !needsEnosysStub(s, defaultErrno)
    ? new Uint8Array(0)
    : encodeInsns(enosysStub(lastSyscalls(rules, archs)));
  const out = new Uint8Array(patch.byteLength + program.byteLength);
  out.set(patch);
  out.set(program, patch.byteLength);
  const count = out.byteLength / BPF_INSN_SIZE;
  if (count > BPF_MAXINSNS) {
    throw new SpecError(
      p,
      `compiles to ${count} BPF instructions; the kernel takes ${BPF_MAXINSNS}`,
    );
  }
  const result: CompiledSeccomp = { filter: out, flags, notify, unknownSyscalls };
  if (notify && s.listenerPath !== undefined) result.listenerPath = s.listenerPath;
  return result;
}

// ---- The -ENOSYS stub (runc's patchbpf) ----
//
// Decision: do it, as runc does. A profile lists the syscalls its author knew of; a syscall
// added to the kernel later gets the default action, typically ERRNO(EPERM). libc wrappers fall
// back to an older syscall only on ENOSYS (glibc's clone3 -> clone, faccessat2 -> faccessat,
// close_range, openat2, statx...), so EPERM breaks newer images under older profiles while
// ENOSYS makes them behave as on an older kernel. runc prepends a stub returning ENOSYS for any
// syscall number above the largest one the profile names, per architecture, unless the default
// action lets calls through (ALLOW, LOG, TRACE). Docker's profiles rely on it, and since
// containers run under runc with it, runts behaves the same. Like runc's, the stub goes by the
// largest number only: unnamed syscalls below it still get the default action.

function needsEnosysStub(s: LinuxSeccomp, defaultErrno: number | undefined): boolean {
  switch (s.defaultAction) {
    case "SCMP_ACT_ALLOW":
    case "SCMP_ACT_LOG":
    case "SCMP_ACT_TRACE":
      return false;
    case "SCMP_ACT_ERRNO":
      return defaultErrno !== E.ENOSYS; // the stub would change nothing
    default:
      return true;
  }
}

/** Largest syscall number named by the profile, per libseccomp arch token (native included). */
function lastSyscalls(rules: readonly Rule[], archs: readonly number[]): Map<number, number> {
  const tokens = new Set([...archs, archNative() >>> 0]);
  const names = new Set(rules.flatMap((r) => r.names));
  const out = new Map<number, number>();
  for (const t of tokens) {
    let max = 0;
    for (const n of names) {
      const nr = syscallResolveName(n, t);
      if (nr >= 0 && nr >>> 0 > max) max = nr >>> 0; // pseudo-syscalls are negative
    }
    if (max !== 0) out.set(t, max);
  }
  return out;
}

const ld = (off: number): Insn => stmt(BPF_LD | BPF_W | BPF_ABS, off);
const ret = (k: number): Insn => stmt(BPF_RET | BPF_K, k);
const jgt = (k: number, jt: number, jf: number): Insn => jump(BPF_JMP | BPF_JGT | BPF_K, k, jt, jf);
const jeq = (k: number, jt: number, jf: number): Insn => jump(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf);
const jset = (k: number, jt: number, jf: number): Insn =>
  jump(BPF_JMP | BPF_JSET | BPF_K, k, jt, jf);
/** Marker for "jump always to the start of libseccomp's program", resolved in enosysStub. */
const TO_FILTER = -1;

/**
 * runc's -ENOSYS stub: for each architecture of the filter, syscall numbers above the largest
 * one the profile names return ERRNO(ENOSYS); everything else falls through to libseccomp's
 * program, which follows the stub. On x86_64 the x86_64 and x32 ABIs (x32 numbers carry
 * X32_SYSCALL_BIT) have limits of their own; on s390 and s390x syscall 0, the multiplexer for
 * numbers the kernel does not know, returns ENOSYS too.
 *
 * `last` maps libseccomp arch tokens to their largest syscall number.
 */
export function enosysStub(last: ReadonlyMap<number, number>): Insn[] {
  const enosys = ret(actErrno(E.ENOSYS));
  // Group tokens by the AUDIT_ARCH_* the kernel reports (x32 reports x86_64).
  const byAudit = new Map<number, Map<number, number>>();
  for (const [token, max] of last) {
    const audit = token === SCMP_ARCH_X32 ? AUDIT_ARCH.X86_64 : token;
    const m = byAudit.get(audit) ?? new Map<number, number>();
    m.set(token, max);
    byAudit.set(audit, m);
  }
  if (byAudit.size === 0) return [];

  // Sections run with the syscall number in A and end with: ja filter; ret ENOSYS.
  const sections: { audit: number; insns: Insn[] }[] = [];
  for (const [audit, m] of byAudit) {
    const body: Insn[] = [];
    const x64 = audit === AUDIT_ARCH.X86_64 ? m.get(AUDIT_ARCH.X86_64) : undefined;
    const x32 = audit === AUDIT_ARCH.X86_64 ? m.get(SCMP_ARCH_X32) : undefined;
    // Offsets are filled in below knowing the body's length: `ja` is at body.length, `ret` next.
    if (x64 !== undefined && x32 !== undefined) {
      body.push(jset(X32_SYSCALL_BIT, 1, 0)); // x32 -> the second compare
      body.push(jgt(x64, 2, 1)); // -> ret ENOSYS, else -> ja
      body.push(jgt(x32, 1, 0));
    } else if (x64 !== undefined) {
      body.push(jset(X32_SYSCALL_BIT, 1, 0)); // x32 call: not ours, -> ja
      body.push(jgt(x64, 1, 0));
    } else if (x32 !== undefined) {
      body.push(jset(X32_SYSCALL_BIT, 0, 1)); // x86_64 call: not ours, -> ja
      body.push(jgt(x32, 1, 0));
    } else {
      const [token, max] = [...m][0]!;
      if (token === SCMP_ARCH_S390 || token === SCMP_ARCH_S390X) body.push(jeq(0, 2, 0));
      body.push(jgt(max, 1, 0));
    }
    sections.push({
      audit,
      insns: [ld(0), ...body, stmt(BPF_JMP | BPF_JA, TO_FILTER), enosys],
    });
  }

  // Layout: ld arch; one jeq per architecture; ja filter; the sections.
  const head: Insn[] = [ld(4)];
  const dispatchEnd = 1 + sections.length + 1; // index of the first section
  let at = dispatchEnd;
  sections.forEach((s, i) => {
    const from = 1 + i; // index of this jeq
    const jt = at - from - 1;
    if (jt > 255) throw new RangeError("seccomp: ENOSYS stub too large");
    head.push(jeq(s.audit, jt, 0));
    at += s.insns.length;
  });
  head.push(stmt(BPF_JMP | BPF_JA, TO_FILTER));
  const all = [...head, ...sections.flatMap((s) => s.insns)];
  // Resolve "jump to the filter": the first instruction after the stub.
  return all.map((x, i) =>
    x.code === (BPF_JMP | BPF_JA) && x.k === (TO_FILTER >>> 0)
      ? stmt(x.code, all.length - i - 1)
      : x
  );
}
