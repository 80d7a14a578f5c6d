/**
 * Starting a process with the clone routine: glibc clone() runs run_program (machine code)
 * on a fresh stack in the child, which executes a syscall program and ends in execve or
 * exit_group. No JavaScript runs in the child (a Deno process cannot fork and keep running JS).
 * @module
 */
import { SyscallError } from "./error.ts";
import { lastErrno, libc } from "./libc.ts";
import { Region, runProgramPointer } from "./memory.ts";
import type { Program } from "./program.ts";
import { SYS } from "./sysno_x86_64.ts";
import { rawSyscall, sys } from "./syscall.ts";
import { readable } from "./watcher.ts";

/** clone(2) flags. */
export const CLONE = {
  NEWTIME: 0x00000080,
  VM: 0x00000100,
  FS: 0x00000200,
  FILES: 0x00000400,
  PIDFD: 0x00001000,
  VFORK: 0x00004000,
  PARENT: 0x00008000,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

const SIGCHLD = 17;
const F_DUPFD_CLOEXEC = 1030;
/** fds a child program uses are moved at or above this number (see HIGH_FD users). */
export const HIGH_FD = 64;
const STACK_SIZE = 64 * 1024;
const O_CLOEXEC = 0o2000000;

/**
 * Children this process started and reaps itself (all but CLONE_PARENT ones): a subreaper's
 * orphan reaping must leave them to their waiters.
 */
export const ownChildren: Set<number> = new Set();

/** A process started by spawnProgram(). */
export interface Spawned {
  /** Host pid. */
  pid: number;
  /** A pidfd for it (CLONE_PIDFD). */
  pidfd: number;
  /** Read end of the report pipe: failure reports and "ready" marks arrive here. */
  reportFd: number;
}

/** Options of spawnProgram(). */
export interface SpawnOptions {
  /** clone flags (namespaces, CLONE_PARENT); SIGCHLD and CLONE_PIDFD are added. */
  flags: number;
}

/**
 * Clones a child that runs `program`. The program's failure reports go to a pipe whose read
 * end is returned; its write end is open in the child only (close-on-exec).
 */
export function spawnProgram(program: Program, opts: SpawnOptions): Spawned {
  const pipe = new Int32Array(2);
  sys("pipe2", "", SYS.pipe2, new Uint8Array(pipe.buffer), O_CLOEXEC);
  const rd = pipe[0]!;
  // The child's own fds live at HIGH_FD and above, so that low numbers are free for scratch.
  const wr = sys("fcntl", "F_DUPFD_CLOEXEC", SYS.fcntl, pipe[1]!, F_DUPFD_CLOEXEC, HIGH_FD);
  rawSyscall(SYS.close, pipe[1]!);
  const image = new Region(roundPage(program.encodedSize()));
  const stack = new Region(STACK_SIZE);
  try {
    program.encode(image.bytes, image.addr, wr);
    const pidfdBox = new Int32Array(1);
    const stackTop = Deno.UnsafePointer.offset(stack.pointer, STACK_SIZE - 64);
    const flags = opts.flags | CLONE.PIDFD | SIGCHLD;
    const pid = libc().clone(
      runProgramPointer(),
      stackTop,
      flags | 0,
      image.pointer,
      Deno.UnsafePointer.of(pidfdBox),
      null,
      null,
    );
    if (pid < 0) {
      const errno = lastErrno();
      rawSyscall(SYS.close, rd);
      throw new SyscallError("clone", errno, `flags 0x${(flags >>> 0).toString(16)}`);
    }
    if ((opts.flags & CLONE.PARENT) === 0) ownChildren.add(pid);
    return { pid, pidfd: pidfdBox[0]!, reportFd: rd };
  } finally {
    rawSyscall(SYS.close, wr);
    image.free();
    stack.free();
  }
}

/**
 * What the child wrote on its report pipe: nothing (it exec'd or exited: `eof`), the index and
 * errno of the step that failed, or a `mark` — a 64-bit value above any step index that the
 * program writes on purpose, with the 8 bytes after it as `value` (what a mark means is the
 * caller's protocol, not this module's).
 */
export type Report =
  | { kind: "eof" }
  | { kind: "failed"; index: number; errno: number }
  | { kind: "mark"; mark: bigint; value: bigint };

/** Report indices from here up are marks, not steps. */
export const FIRST_MARK = 0xffff_ffff_0000_0000n;

/** Waits for the next report from a child (blocking read on the FFI thread). */
export async function readReport(fd: number): Promise<Report> {
  const buf = new Uint8Array(16);
  let got = 0;
  while (got < 16) {
    await readable(fd);
    const n = sys("read", "report pipe", SYS.read, fd, buf.subarray(got), 16 - got);
    if (n === 0) break;
    got += n;
  }
  if (got === 0) return { kind: "eof" };
  if (got < 16) return { kind: "failed", index: -1, errno: 5 };
  const dv = new DataView(buf.buffer);
  const index = dv.getBigUint64(0, true);
  if (index >= FIRST_MARK) return { kind: "mark", mark: index, value: dv.getBigInt64(8, true) };
  return { kind: "failed", index: Number(index), errno: Number(dv.getBigUint64(8, true)) };
}

function roundPage(n: number): number {
  return Math.ceil(Math.max(n, 1) / 4096) * 4096;
}
