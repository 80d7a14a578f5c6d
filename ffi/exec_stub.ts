/**
 * The exec stub in a sealed memfd (its own module: it makes syscalls, and ffi/syscall.ts needs
 * ffi/memory.ts for the raw syscall routine).
 * @module
 */
import { EXEC_STUB_HEX } from "./exec_stub_x86_64.ts";
import { hexBytes } from "./memory.ts";
import { SYS } from "./sysno_x86_64.ts";
import { cstr, sys } from "./syscall.ts";

let stubFd: number | undefined;

/**
 * A sealed memfd holding the exec stub (ffi/asm/exec_stub_x86_64.S): the last thing a
 * container's process executes before its program, so the runtime's binary is never its
 * executable then. One per process, close-on-exec, shared by every clone.
 */
export function execStubFd(): number {
  if (stubFd !== undefined) return stubFd;
  const MFD_CLOEXEC = 1;
  const MFD_ALLOW_SEALING = 2;
  const F_ADD_SEALS = 1033;
  const SEALS = 0x1 | 0x2 | 0x4 | 0x8; // SEAL, SHRINK, GROW, WRITE
  const fd = sys(
    "memfd_create",
    '"runts-exec"',
    SYS.memfd_create,
    cstr("runts-exec"),
    MFD_CLOEXEC | MFD_ALLOW_SEALING,
  );
  const bytes = hexBytes(EXEC_STUB_HEX);
  let off = 0;
  while (off < bytes.byteLength) {
    off += sys("write", "exec stub", SYS.write, fd, bytes.subarray(off), bytes.byteLength - off);
  }
  sys("fcntl", "F_ADD_SEALS", SYS.fcntl, fd, F_ADD_SEALS, SEALS);
  stubFd = fd;
  return fd;
}
