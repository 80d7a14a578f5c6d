/**
 * The host side of a container's terminal: a socket pair standing in for `--console-socket`,
 * and the relay between the user's terminal and the pty master when runts itself is in the
 * foreground (`runts run` with process.terminal and no console socket).
 * @module
 */
import { SyscallError } from "../../ffi/error.ts";
import { closeFd, writeAll } from "../../ffi/process.ts";
import { recvMsg } from "../../ffi/socket.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";
import { winsize } from "../../ffi/structs/kernel.ts";
import { rawSyscall, rawSyscallAsync, sys } from "../../ffi/syscall.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const TIOCSWINSZ = 0x5414;

/** A connected stream socket pair: [ours, the container's console socket]. */
export function consolePair(): [number, number] {
  const fds = new Int32Array(2);
  sys(
    "socketpair",
    "console",
    SYS.socketpair,
    AF_UNIX,
    SOCK_STREAM | SOCK_CLOEXEC,
    0,
    new Uint8Array(fds.buffer),
  );
  return [fds[0]!, fds[1]!];
}

/** Receives the pty master that the container's init sent to the console socket. */
export function receiveMaster(sock: number): number {
  const msg = recvMsg(sock, 4096, 1);
  const fd = msg?.fds[0];
  if (fd === undefined) throw new Error("the container sent no pty master to the console socket");
  return fd;
}

/** Sets a pty's window size. */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  rawSyscall(SYS.ioctl, fd, TIOCSWINSZ, winsize(rows, cols));
}

/**
 * Copies the user's stdin to the pty master and the master to stdout until the master
 * reports EOF/EIO (the container's side is closed). Puts a terminal stdin in raw mode and
 * restores it; follows window size changes.
 */
export async function relay(master: number): Promise<void> {
  const tty = Deno.stdin.isTerminal();
  const onWinch = () => {
    try {
      const { rows, columns } = Deno.consoleSize();
      setWindowSize(master, rows, columns);
    } catch {
      // not a terminal
    }
  };
  if (tty) {
    Deno.stdin.setRaw(true);
    onWinch();
    Deno.addSignalListener("SIGWINCH", onWinch);
  }
  let done = false;
  const input = (async () => {
    const buf = new Uint8Array(4096);
    while (!done) {
      const n = await rawSyscallAsync(SYS.read, 0, buf, buf.byteLength);
      if (n === -4) continue;
      if (n <= 0 || done) break;
      try {
        writeAll(master, buf.subarray(0, n), "pty master");
      } catch {
        break;
      }
    }
  })();
  try {
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = await rawSyscallAsync(SYS.read, master, buf, buf.byteLength);
      if (n === -4) continue;
      if (n <= 0) break;
      writeAll(1, buf.subarray(0, n), "stdout");
    }
  } finally {
    done = true;
    if (tty) {
      Deno.removeSignalListener("SIGWINCH", onWinch);
      Deno.stdin.setRaw(false);
    }
    closeFd(master);
    // The stdin reader may stay blocked in read(2) on the FFI thread; it is not awaited.
    void input;
  }
}

/**
 * Connects to a `--console-socket` (an AF_UNIX stream socket file); `what` names the socket in
 * errors (default `--console-socket`).
 */
export function connectConsoleSocket(path: string, what = "--console-socket"): number {
  const fd = sys("socket", "console", SYS.socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const enc = new TextEncoder().encode(path);
  if (enc.byteLength > 107) {
    closeFd(fd);
    throw new Error(`${what} ${JSON.stringify(path)}: path too long`);
  }
  const addr = new Uint8Array(110);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(enc, 2);
  const r = rawSyscall(SYS.connect, fd, addr, 2 + enc.byteLength + 1);
  if (r < 0) {
    closeFd(fd);
    throw new SyscallError("connect", -r, `${what} ${JSON.stringify(path)}`);
  }
  return fd;
}
