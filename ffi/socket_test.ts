import { assert, assertEquals, assertRejects, assertThrows } from "../tests/assert.ts";
import { SyscallError } from "./error.ts";
import {
  accept,
  acceptAsync,
  connectUnix,
  EPOLLHUP,
  EPOLLIN,
  listenUnix,
  memfdWith,
  MSG_DONTWAIT,
  MsgReceiver,
  peerCred,
  preadExact,
  ReadyWaiter,
  recvMsg,
  recvMsgAsync,
  sendMsg,
  setNonblocking,
  shutdownFd,
  socketpairSeqpacket,
} from "./socket.ts";
import { closeFd } from "./process.ts";
import { SYS } from "./sysno_x86_64.ts";
import { rawSyscall, sys } from "./syscall.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const F_GETFD = 1;
const FD_CLOEXEC = 1;

function pipe(): [number, number] {
  const b = new Uint8Array(8);
  sys("pipe2", "", SYS.pipe2, b, 0o2000000);
  const dv = new DataView(b.buffer);
  return [dv.getInt32(0, true), dv.getInt32(4, true)];
}

function write(fd: number, s: string): void {
  const b = enc.encode(s);
  assertEquals(rawSyscall(SYS.write, fd, b, b.byteLength), b.byteLength);
}

function read(fd: number, max = 256): string {
  const b = new Uint8Array(max);
  const n = sys("read", "", SYS.read, fd, b, max);
  return dec.decode(b.subarray(0, n));
}

function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "runts-socket-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sendMsg() and recvMsg() keep message boundaries over a socketpair", () => {
  const [a, b] = socketpairSeqpacket();
  try {
    sendMsg(a, enc.encode("one"));
    sendMsg(a, enc.encode("second"));
    assertEquals(dec.decode(recvMsg(b, 64, 0)!.data), "one");
    const r = recvMsg(b, 64, 0)!;
    assertEquals(dec.decode(r.data), "second");
    assertEquals(r.fds, []);
  } finally {
    closeFd(a);
    closeFd(b);
  }
});

Deno.test("sendMsg() passes a pipe's read end that recvMsg() receives close-on-exec", () => {
  const [a, b] = socketpairSeqpacket();
  const [rd, wr] = pipe();
  try {
    sendMsg(a, enc.encode("fd"), [rd]);
    const r = recvMsg(b, 64, 4)!;
    assertEquals(r.fds.length, 1);
    const got = r.fds[0]!;
    assert(got !== rd);
    assertEquals(rawSyscall(SYS.fcntl, got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    write(wr, "through the pipe");
    assertEquals(read(got), "through the pipe");
    closeFd(got);
  } finally {
    for (const fd of [a, b, rd, wr]) closeFd(fd);
  }
});

Deno.test("recvMsg() returns null at end of file", () => {
  const [a, b] = socketpairSeqpacket();
  closeFd(a);
  assertEquals(recvMsg(b, 64, 0), null);
  closeFd(b);
});

Deno.test("recvMsg() rejects a message longer than maxBytes, naming its size", () => {
  const [a, b] = socketpairSeqpacket();
  try {
    sendMsg(a, new Uint8Array(100));
    assertThrows(() => recvMsg(b, 10, 0), Error, "100 bytes is more than 10");
    // The message was consumed: the next one is intact.
    sendMsg(a, enc.encode("next"));
    assertEquals(dec.decode(recvMsg(b, 10, 0)!.data), "next");
  } finally {
    closeFd(a);
    closeFd(b);
  }
});

Deno.test("recvMsg() rejects more fds than maxFds and closes the ones that arrived", () => {
  const [a, b] = socketpairSeqpacket();
  const [rd, wr] = pipe();
  try {
    const before = openFds();
    sendMsg(a, enc.encode("x"), [rd, rd, rd, rd]);
    assertThrows(() => recvMsg(b, 64, 2), Error, "more than 2 fds");
    assertEquals(openFds(), before);
  } finally {
    for (const fd of [a, b, rd, wr]) closeFd(fd);
  }
});

Deno.test("MsgReceiver.recv() with MSG_DONTWAIT throws EAGAIN when nothing is queued", () => {
  const [a, b] = socketpairSeqpacket();
  try {
    const rx = new MsgReceiver(64, 1);
    const e = assertThrows(() => rx.recv(b, MSG_DONTWAIT), SyscallError, "EAGAIN");
    assertEquals((e as SyscallError).syscall, "recvmsg");
    sendMsg(a, enc.encode("now"));
    assertEquals(dec.decode(rx.recv(b, MSG_DONTWAIT)!.data), "now");
  } finally {
    closeFd(a);
    closeFd(b);
  }
});

Deno.test("recvMsgAsync() waits on an FFI thread while timers keep firing", async () => {
  const [a, b] = socketpairSeqpacket();
  try {
    const got = recvMsgAsync(b, 64, 0);
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (++ticks === 3) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    sendMsg(a, enc.encode("late"));
    assertEquals(dec.decode((await got)!.data), "late");
    assertEquals(ticks, 3);
  } finally {
    closeFd(a);
    closeFd(b);
  }
});

Deno.test("shutdownFd() wakes a pending recvMsgAsync() with end of file", async () => {
  const [a, b] = socketpairSeqpacket();
  const got = recvMsgAsync(b, 64, 0);
  await new Promise((r) => setTimeout(r, 10));
  shutdownFd(b);
  assertEquals(await got, null);
  closeFd(a);
  closeFd(b);
});

Deno.test("listenUnix() makes a socket file of mode 0600 whatever the umask", async () => {
  await withTempDir((dir) => {
    const old = Deno.umask(0);
    let fd = -1;
    try {
      fd = listenUnix(`${dir}/sock`);
    } finally {
      Deno.umask(old);
    }
    try {
      const st = Deno.statSync(`${dir}/sock`);
      assert(st.isSocket);
      assertEquals(st.mode! & 0o777, 0o600);
    } finally {
      closeFd(fd);
    }
  });
});

Deno.test("listenUnix() applies the given mode", async () => {
  await withTempDir((dir) => {
    const fd = listenUnix(`${dir}/sock`, { mode: 0o660, backlog: 1 });
    assertEquals(Deno.statSync(`${dir}/sock`).mode! & 0o777, 0o660);
    closeFd(fd);
  });
});

Deno.test("listenUnix() refuses an existing path and leaves it alone", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/sock`, "keep");
    assertThrows(() => listenUnix(`${dir}/sock`), SyscallError, `bind "${dir}/sock": EADDRINUSE`);
    assertEquals(Deno.readTextFileSync(`${dir}/sock`), "keep");
  });
});

Deno.test("connectUnix() names the path when nothing listens there", async () => {
  await withTempDir((dir) => {
    assertThrows(() => connectUnix(`${dir}/none`), SyscallError, `connect "${dir}/none": ENOENT`);
  });
});

Deno.test("connectUnix(), acceptAsync() and peerCred() over a socket file", async () => {
  await withTempDir(async (dir) => {
    const l = listenUnix(`${dir}/sock`);
    const pending = acceptAsync(l);
    const c = connectUnix(`${dir}/sock`);
    const s = await pending;
    try {
      assertEquals(peerCred(s), { pid: Deno.pid, uid: Deno.uid()!, gid: Deno.gid()! });
      sendMsg(c, enc.encode("hello"));
      assertEquals(dec.decode(recvMsg(s, 64, 0)!.data), "hello");
    } finally {
      for (const fd of [l, c, s]) closeFd(fd);
    }
  });
});

Deno.test("accept() returns null on a non-blocking socket with nothing pending", async () => {
  await withTempDir((dir) => {
    const l = listenUnix(`${dir}/sock`);
    try {
      setNonblocking(l);
      assertEquals(accept(l), null);
      const c = connectUnix(`${dir}/sock`);
      const s = accept(l);
      assert(s !== null && s >= 0);
      closeFd(s);
      closeFd(c);
    } finally {
      closeFd(l);
    }
  });
});

Deno.test("listenUnix() and connectUnix() reach a path longer than sun_path", async () => {
  await withTempDir((dir) => {
    const deep = `${dir}/${"d".repeat(60)}/${"e".repeat(60)}`;
    Deno.mkdirSync(deep, { recursive: true });
    const path = `${deep}/sock`;
    assert(enc.encode(path).byteLength > 108);
    const l = listenUnix(path);
    try {
      assertEquals(Deno.statSync(path).mode! & 0o777, 0o600);
      const c = connectUnix(path);
      sendMsg(c, enc.encode("far"));
      const s = accept(l)!;
      assertEquals(dec.decode(recvMsg(s, 64, 0)!.data), "far");
      closeFd(s);
      closeFd(c);
    } finally {
      closeFd(l);
    }
  });
});

Deno.test("shutdownFd() wakes a pending acceptAsync() with EINVAL", async () => {
  await withTempDir(async (dir) => {
    const l = listenUnix(`${dir}/sock`);
    const pending = acceptAsync(l);
    await new Promise((r) => setTimeout(r, 10));
    shutdownFd(l);
    await assertRejects(() => pending, SyscallError, "EINVAL");
    closeFd(l);
  });
});

Deno.test("ReadyWaiter.wait() reports readable fds and wake() ends a wait", async () => {
  const [a, b] = socketpairSeqpacket();
  const w = new ReadyWaiter();
  try {
    w.watch(b);
    const woken = w.wait();
    await new Promise((r) => setTimeout(r, 10));
    w.wake();
    assertEquals(await woken, []);
    // Added while a wait is pending: no wake-up needed.
    const pending = w.wait();
    await new Promise((r) => setTimeout(r, 10));
    sendMsg(a, enc.encode("x"));
    assertEquals(await pending, [[b, EPOLLIN]]);
    // Level-triggered: still reported while unread.
    assertEquals(await w.wait(0), [[b, EPOLLIN]]);
    w.unwatch(b);
    assertEquals(await w.wait(0), []);
  } finally {
    w.close();
    closeFd(a);
    closeFd(b);
  }
});

Deno.test("ReadyWaiter.watch() oneshot reports once until rearm()", async () => {
  let [a, b] = socketpairSeqpacket();
  const w = new ReadyWaiter();
  try {
    w.watch(b, { oneshot: true });
    const pending = w.wait();
    await new Promise((r) => setTimeout(r, 10));
    sendMsg(a, enc.encode("x"));
    assertEquals(await pending, [[b, EPOLLIN]]);
    assertEquals(await w.wait(0), [], "disarmed although still readable");
    w.rearm(b);
    assertEquals(await w.wait(0), [[b, EPOLLIN]]);
    closeFd(a);
    a = -1;
    recvMsg(b, 8, 0);
    w.rearm(b);
    assertEquals(await w.wait(0), [[b, EPOLLIN | EPOLLHUP]]);
  } finally {
    w.close();
    closeFd(a);
    closeFd(b);
  }
});

Deno.test("memfdWith() and preadExact() carry bytes through a memfd", () => {
  const data = new Uint8Array(200_000).map((_, i) => i & 0xff);
  const fd = memfdWith(data);
  try {
    assertEquals(preadExact(fd, data.byteLength), data);
    assertThrows(() => preadExact(fd, data.byteLength + 1), Error, "ended after 200000");
  } finally {
    closeFd(fd);
  }
});
