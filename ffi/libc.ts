/**
 * The one libc symbol table of runts. Only a handful of libc functions are needed: the rest of
 * the kernel is reached through the `raw_syscall` routine (ffi/syscall.ts), which returns
 * `-errno` and so has no thread-local errno to read.
 *
 * The library is opened lazily, on first use, never at import time.
 * @module
 */

const SYMBOLS = {
  // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  // int mprotect(void *addr, size_t len, int prot);
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  // int munmap(void *addr, size_t length);
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  // int clone(int (*fn)(void *), void *stack, int flags, void *arg, pid_t *parent_tid,
  //           void *tls, pid_t *child_tid);   (variadic after arg; x86_64 passes them alike)
  clone: {
    parameters: ["pointer", "pointer", "i32", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  // int *__errno_location(void);
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The libc symbols, opened on first call. */
export function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** errno of the calling thread: call it right after the failing libc call, nothing between. */
export function lastErrno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}
