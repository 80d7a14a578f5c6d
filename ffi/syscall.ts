/**
 * System calls through the raw_syscall routine: the kernel's result comes back unchanged
 * (`-errno` on failure), so errno is never read from thread-local storage and the same call can
 * run on Deno's FFI worker thread (`nonblocking`) for blocking waits.
 * @module
 */
import { SyscallError } from "./error.ts";
import { rawSyscallPointer } from "./memory.ts";

/** A syscall argument: a number, a bigint (pointers, 64-bit flags) or a buffer (its address). */
export type Arg = number | bigint | Uint8Array | null;

const DEF = {
  parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"],
  result: "i64",
} as const;

let syncFn: Deno.UnsafeFnPointer<typeof DEF> | undefined;
let asyncFn: Deno.UnsafeFnPointer<typeof DEF & { nonblocking: true }> | undefined;

type Code = Deno.PointerObject<Omit<typeof DEF, "nonblocking">>;

function toI64(a: Arg | undefined): bigint {
  if (a === undefined || a === null) return 0n;
  if (a instanceof Uint8Array) {
    if (a.byteLength === 0) return 0n;
    return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)));
  }
  return BigInt.asIntN(64, BigInt(a));
}

function args7(nr: number, a: Arg[]): bigint[] {
  return [BigInt(nr), toI64(a[0]), toI64(a[1]), toI64(a[2]), toI64(a[3]), toI64(a[4]), toI64(a[5])];
}

/** Calls a syscall and returns the raw result (negative errno on failure). */
export function rawSyscall(nr: number, ...a: Arg[]): number {
  syncFn ??= new Deno.UnsafeFnPointer(rawSyscallPointer() as Code, DEF);
  const [n, a0, a1, a2, a3, a4, a5] = args7(nr, a);
  return Number(syncFn.call(n!, a0!, a1!, a2!, a3!, a4!, a5!));
}

/** Like rawSyscall, on Deno's FFI thread: for calls that block (poll, waitid, accept). */
export async function rawSyscallAsync(nr: number, ...a: Arg[]): Promise<number> {
  asyncFn ??= new Deno.UnsafeFnPointer(rawSyscallPointer() as Code, {
    ...DEF,
    nonblocking: true,
  });
  const [n, a0, a1, a2, a3, a4, a5] = args7(nr, a);
  return Number(await asyncFn.call(n!, a0!, a1!, a2!, a3!, a4!, a5!));
}

/**
 * Calls a syscall and throws a SyscallError naming `name` and `subject` on failure.
 *
 * @example
 * ```ts
 * const fd = sys("openat", "\"/etc/hostname\"", SYS.openat, AT_FDCWD, cstr("/etc/hostname"), 0);
 * ```
 */
export function sys(name: string, subject: string, nr: number, ...a: Arg[]): number {
  const r = rawSyscall(nr, ...a);
  if (r < 0 && r > -4096) throw new SyscallError(name, -r, subject);
  return r;
}

/** Async form of sys(), for blocking calls. EINTR is retried. */
export async function sysAsync(
  name: string,
  subject: string,
  nr: number,
  ...a: Arg[]
): Promise<number> {
  for (;;) {
    const r = await rawSyscallAsync(nr, ...a);
    if (r === -4) continue;
    if (r < 0 && r > -4096) throw new SyscallError(name, -r, subject);
    return r;
  }
}

const enc = new TextEncoder();

/** A NUL-terminated C string in a fresh buffer. */
export function cstr(s: string): Uint8Array {
  const b = enc.encode(s);
  const out = new Uint8Array(b.byteLength + 1);
  out.set(b);
  return out;
}
