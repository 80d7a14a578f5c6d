/**
 * The terminal of a process.terminal process: a pty made in the container's devpts, owned by
 * the process's uid, its master sent to the console socket, its slave the stdio, the
 * controlling terminal and /dev/console.
 * @module
 */
import { Blob } from "../../../ffi/program.ts";
import { OPEN_HOW_SIZE, openHow, scmRightsMsg, winsize } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import { AT, AT_FDCWD, E, O, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE, RESOLVE, S } from "../consts.ts";
import type { Builder } from "./builder.ts";
import { moveMount } from "./mounts.ts";
import { SCRATCH_FD } from "./options.ts";

const TIOCSPTLCK = 0x40045431;

const TIOCGPTPEER = 0x5441;

const TIOCSCTTY = 0x540e;

const TIOCSWINSZ = 0x5414;

/** The pty: made in the container's devpts, master sent to the console socket. */
export function setupConsole(b: Builder, consoleFd: number, devConsole: boolean): void {
  b.phase = "console";
  const m = b.call("openat", SYS.openat, [
    AT_FDCWD,
    "/dev/ptmx",
    O.RDWR | O.NOCTTY | O.CLOEXEC,
    0,
  ], { subject: '"/dev/ptmx"' });
  b.call("ioctl", SYS.ioctl, [m, TIOCSPTLCK, new Uint8Array(4)], { subject: "TIOCSPTLCK" });
  const slave = b.call("ioctl", SYS.ioctl, [m, TIOCGPTPEER, O.RDWR | O.NOCTTY], {
    subject: "TIOCGPTPEER",
  });
  // The terminal belongs to the process's user; its group stays what devpts gave it (the
  // mount's gid=, the tty group), as with runc. EINVAL/EPERM: an id not mapped here.
  const uid = b.spec.process?.user?.uid ?? 0;
  if (uid !== 0) {
    b.call("fchown", SYS.fchown, [slave, uid, -1], {
      ok: [E.EINVAL, E.EPERM],
      subject: `pty to process.user.uid ${uid}`,
    });
  }
  const size = b.spec.process?.consoleSize;
  if (size !== undefined) {
    b.call("ioctl", SYS.ioctl, [slave, TIOCSWINSZ, winsize(size.height, size.width)], {
      subject: "process.consoleSize",
    });
  }
  b.call("dup2", SYS.dup2, [m, SCRATCH_FD]);
  const payload = new TextEncoder().encode("/dev/ptmx");
  b.call("sendmsg", SYS.sendmsg, [
    consoleFd,
    new Blob(96 + payload.byteLength, (addr) => scmRightsMsg(addr, SCRATCH_FD, payload)),
    0,
  ], { subject: "pty master to the console socket" });
  b.call("close", SYS.close, [SCRATCH_FD]);
  b.call("close", SYS.close, [m]);
  b.call("ioctl", SYS.ioctl, [slave, TIOCSCTTY, 0], { subject: "TIOCSCTTY" });
  if (devConsole) {
    b.call("mknodat", SYS.mknodat, [AT_FDCWD, "/dev/console", S.IFREG | 0o600, 0], {
      ok: [E.EEXIST],
      subject: '"/dev/console"',
    });
    const tgt = b.call("openat2", SYS.openat2, [
      AT_FDCWD,
      "/dev/console",
      openHow(O.PATH | O.CLOEXEC | O.NOFOLLOW, 0, RESOLVE.NO_MAGICLINKS),
      OPEN_HOW_SIZE,
    ], { subject: '"/dev/console"' });
    const tree = b.call("open_tree", SYS.open_tree, [
      slave,
      "",
      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT.EMPTY_PATH,
    ], { subject: "pty slave" });
    moveMount(b, tree, tgt, '"/dev/console"');
  }
  for (let i = 0; i < 3; i++) b.call("dup2", SYS.dup2, [slave, i], { subject: `stdio ${i}` });
  b.call("close", SYS.close, [slave]);
}
