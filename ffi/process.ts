/**
 * Processes: pidfds, waiting, signals, and the little files of /proc a runtime reads.
 * @module
 */
import { SyscallError } from "./error.ts";
import { SYS } from "./sysno_x86_64.ts";
import { rawSyscall, sys, sysAsync } from "./syscall.ts";
import { readable } from "./watcher.ts";
export { inUserNamespace } from "./userns.ts";

const P_PID = 1;
const P_PIDFD = 3;
const WEXITED = 4;
const WNOHANG = 1;
const CLD_EXITED = 1;
const SIGINFO_SIZE = 128;

/** How a process ended. */
export interface ExitStatus {
  /** Exit code, or 128 + signal when killed by a signal (shell convention). */
  code: number;
  /** The signal that killed it, if any. */
  signal?: number;
}

function decodeSiginfo(buf: Uint8Array): ExitStatus | undefined {
  const dv = new DataView(buf.buffer, buf.byteOffset);
  const pid = dv.getInt32(16, true);
  if (pid === 0) return undefined;
  const code = dv.getInt32(8, true);
  const status = dv.getInt32(24, true);
  if (code === CLD_EXITED) return { code: status & 0xff };
  return { code: 128 + status, signal: status };
}

/** Reaps a child by pidfd once it has exited. Throws ECHILD if it is not our child. */
export async function waitPidfd(pidfd: number): Promise<ExitStatus> {
  await readable(pidfd);
  const buf = new Uint8Array(SIGINFO_SIZE);
  sys("waitid", "", SYS.waitid, P_PIDFD, pidfd, buf, WEXITED, 0);
  return decodeSiginfo(buf) ?? { code: 0 };
}

/** Reaps a child by pid if it has exited; undefined while it runs. */
export function reapNoHang(pid: number): ExitStatus | undefined {
  const buf = new Uint8Array(SIGINFO_SIZE);
  const r = rawSyscall(SYS.waitid, P_PID, pid, buf, WEXITED | WNOHANG, 0);
  if (r < 0) return undefined;
  return decodeSiginfo(buf);
}

/** Reaps a child by pid, blocking (for a child known to be exiting). */
export function reapBlocking(pid: number): ExitStatus | undefined {
  const buf = new Uint8Array(SIGINFO_SIZE);
  const r = rawSyscall(SYS.waitid, P_PID, pid, buf, WEXITED, 0);
  if (r < 0) return undefined;
  return decodeSiginfo(buf);
}

/**
 * Waits until the process behind a pidfd has exited (works for non-children too). Without a
 * timeout this uses the process-wide watcher; with one, a poll(2) on an FFI thread.
 */
export async function pollPidfd(pidfd: number, timeoutMs = -1): Promise<boolean> {
  if (timeoutMs < 0) {
    await readable(pidfd);
    return true;
  }
  const pfd = new Uint8Array(8);
  const dv = new DataView(pfd.buffer);
  dv.setInt32(0, pidfd, true);
  dv.setInt16(4, 1, /* POLLIN */ true);
  const n = await sysAsync("poll", "pidfd", SYS.poll, pfd, 1, timeoutMs);
  return n > 0;
}

/** Opens a pidfd for a pid; undefined if it no longer exists. */
export function pidfdOpen(pid: number): number | undefined {
  const r = rawSyscall(SYS.pidfd_open, pid, 0);
  return r < 0 ? undefined : r;
}

/** Sends a signal through a pidfd. ESRCH (already gone) is reported as false. */
export function pidfdSignal(pidfd: number, signal: number): boolean {
  const r = rawSyscall(SYS.pidfd_send_signal, pidfd, signal, null, 0);
  if (r === -3) return false;
  if (r < 0) throw new SyscallError("pidfd_send_signal", -r, `signal ${signal}`);
  return true;
}

/** kill(2); false when the process does not exist. */
export function killPid(pid: number, signal: number): boolean {
  const r = rawSyscall(SYS.kill, pid, signal);
  if (r === -3) return false;
  if (r < 0) throw new SyscallError("kill", -r, `pid ${pid} signal ${signal}`);
  return true;
}

/** close(2), ignoring errors. */
export function closeFd(fd: number): void {
  if (fd >= 0) rawSyscall(SYS.close, fd);
}

/** write(2) of all bytes, throwing on failure. */
export function writeAll(fd: number, data: Uint8Array, subject = ""): void {
  let off = 0;
  while (off < data.byteLength) {
    const n = rawSyscall(SYS.write, fd, data.subarray(off), data.byteLength - off);
    if (n === -4) continue;
    if (n < 0) throw new SyscallError("write", -n, subject);
    off += n;
  }
}

/** prctl(2) with integer arguments. */
export function prctl(option: number, arg2 = 0, arg3 = 0): number {
  return sys("prctl", `option ${option}`, SYS.prctl, option, arg2, arg3, 0, 0);
}

/** fcntl(F_DUPFD_CLOEXEC): a copy of fd at or above `min`. */
export function dupAbove(fd: number, min: number): number {
  return sys("fcntl", `F_DUPFD_CLOEXEC ${fd}`, SYS.fcntl, fd, 1030, min);
}

/** dup3(2): `fd` also becomes `target` (closed first if open), not close-on-exec. */
export function dupOnto(fd: number, target: number): void {
  sys("dup3", `${fd} onto ${target}`, SYS.dup3, fd, target, 0);
}

/** A pipe, both ends close-on-exec: [read, write]. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  sys("pipe2", "", SYS.pipe2, new Uint8Array(fds.buffer), 0o2000000);
  return [fds[0]!, fds[1]!];
}

/** open(2) of a path, close-on-exec. */
export function openPath(path: string, flags: number, mode = 0): number {
  const enc = new TextEncoder().encode(path + "\0");
  return sys("open", JSON.stringify(path), SYS.openat, -100, enc, flags | 0o2000000, mode);
}

/** setns(2) of the calling thread. */
export function setns(fd: number, nstype: number, subject = ""): void {
  sys("setns", subject, SYS.setns, fd, nstype);
}

/** unshare(2) of the calling thread. */
export function unshare(flags: number): void {
  sys("unshare", `flags 0x${flags.toString(16)}`, SYS.unshare, flags);
}
