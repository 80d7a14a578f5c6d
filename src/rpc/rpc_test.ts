import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../../tests/assert.ts";
import { SyscallError } from "../../ffi/error.ts";
import { listenUnix, recvMsgAsync, sendMsg, socketpairSeqpacket } from "../../ffi/socket.ts";
import { closeFd } from "../../ffi/process.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";
import { rawSyscall, sys } from "../../ffi/syscall.ts";
import { RpcClient } from "./client.ts";
import {
  decodeMessage,
  encodeMessage,
  INLINE_MAX,
  MAX_FDS,
  MAX_MESSAGE,
  ProtocolError,
} from "./protocol.ts";
import { type HandlerResult, RpcServer } from "./server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

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

function read(fd: number): string {
  const b = new Uint8Array(256);
  const n = sys("read", "", SYS.read, fd, b, b.byteLength);
  return dec.decode(b.subarray(0, n));
}

/** How many fds of this process link to what `fd` links to (both ends of a pipe do), or a prefix. */
function copies(what: number | string): number {
  const target = typeof what === "number" ? Deno.readLinkSync(`/proc/self/fd/${what}`) : what;
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith(target)) n++;
    } catch {
      // the fd of the directory listing itself, or one closed meanwhile
    }
  }
  return n;
}

/** A server with the given methods on one end of a socketpair, a client on the other. */
async function overPair(
  setup: (s: RpcServer) => void,
  fn: (c: RpcClient, s: RpcServer) => Promise<void> | void,
  allowUid: (uid: number) => boolean = () => true,
): Promise<void> {
  const server = new RpcServer({ allowUid });
  setup(server);
  const [a, b] = socketpairSeqpacket();
  const done = server.serveConnection(a);
  const client = RpcClient.fromFd(b);
  try {
    await fn(client, server);
  } finally {
    client.close();
    server.close();
    await done;
  }
}

/** A server listening on a socket file in a temp dir. */
async function overFile(
  setup: (s: RpcServer) => void,
  fn: (path: string, s: RpcServer) => Promise<void> | void,
  allowUid: (uid: number) => boolean = () => true,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "runts-rpc-" });
  const server = new RpcServer({ allowUid });
  setup(server);
  const done = server.serve(listenUnix(`${dir}/sock`, { mode: 0o600, backlog: 4 }));
  try {
    await fn(`${dir}/sock`, server);
  } finally {
    server.close();
    await done;
    await Deno.remove(dir, { recursive: true });
  }
}

const echo = (s: RpcServer) => s.register("Echo", (arg) => ({ result: arg }));

// callSync() blocks this thread, so its server must run elsewhere: in a Worker (same process,
// same fd table) with Echo, Fail and Open methods.
const WORKER_SRC = `
import { RpcServer } from ${JSON.stringify(new URL("./server.ts", import.meta.url).href)};
import { SyscallError } from ${JSON.stringify(new URL("../../ffi/error.ts", import.meta.url).href)};
import { listenUnix } from ${JSON.stringify(new URL("../../ffi/socket.ts", import.meta.url).href)};
import { SYS } from ${JSON.stringify(new URL("../../ffi/sysno_x86_64.ts", import.meta.url).href)};
import { rawSyscall, sys } from ${
  JSON.stringify(new URL("../../ffi/syscall.ts", import.meta.url).href)
};
const server = new RpcServer({ allowUid: () => true });
server.register("Echo", (arg) => ({ result: arg }));
server.register("Fail", () => {
  throw new SyscallError("mount", 1, '"proc" on "/proc"').wrap("preparing rootfs");
});
server.register("Open", () => {
  const b = new Uint8Array(8);
  sys("pipe2", "", SYS.pipe2, b, 0o2000000);
  const dv = new DataView(b.buffer);
  const msg = new TextEncoder().encode("from the server");
  rawSyscall(SYS.write, dv.getInt32(4, true), msg, msg.byteLength);
  rawSyscall(SYS.close, dv.getInt32(4, true));
  return { result: "here", fds: { out: dv.getInt32(0, true) } };
});
self.onmessage = async (e) => {
  if (e.data === "close") return server.close();
  const done = server.serve(listenUnix(e.data, { mode: 0o600 }));
  self.postMessage("ready");
  await done;
  self.postMessage("done");
};
`;

/** Runs fn with the path of a socket served by a Worker. */
async function withWorkerServer(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "runts-rpc-" });
  const url = URL.createObjectURL(new Blob([WORKER_SRC], { type: "application/javascript" }));
  const w = new Worker(url, { type: "module" });
  const next = () => new Promise((r) => (w.onmessage = (e) => r(e.data)));
  try {
    const ready = next();
    w.postMessage(`${dir}/sock`);
    assertEquals(await ready, "ready");
    const done = next();
    try {
      await fn(`${dir}/sock`);
    } finally {
      w.postMessage("close");
      assertEquals(await done, "done");
    }
  } finally {
    w.terminate();
    URL.revokeObjectURL(url);
    await Deno.remove(dir, { recursive: true });
  }
}

// Protocol

Deno.test("encodeMessage() rejects more than 16 fds, naming the count", () => {
  const fds = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}`, i]));
  assertThrows(
    () => encodeMessage({ method: "M", arg: null, fds }),
    ProtocolError,
    "too many fds: 17 (at most 16)",
  );
});

Deno.test("encodeMessage() rejects a message over 1 MiB", () => {
  assertThrows(
    () => encodeMessage({ method: "M", arg: "x".repeat(MAX_MESSAGE) }),
    ProtocolError,
    `is larger than the limit of ${MAX_MESSAGE}`,
  );
});

Deno.test("decodeMessage() reports malformed JSON and a missing method", async (t) => {
  const cases: [string, string][] = [
    ['{"method": "M", arg', "malformed request (19 bytes): "],
    ["[1]", "malformed request: expected a JSON object, got array"],
    ['{"arg": 1}', 'malformed request: missing "method"'],
    ['{"method": 7, "arg": 1}', 'malformed request: "method" must be a non-empty string, got 7'],
    ['{"id": "a", "method": "M"}', 'malformed request: "id" must be an integer, got string'],
  ];
  for (const [json, msg] of cases) {
    await t.step(json, () => {
      assertThrows(() => decodeMessage(enc.encode(json), "request", 0), ProtocolError, msg);
    });
  }
});

Deno.test("decodeMessage() checks that fds name each attached fd once", async (t) => {
  const cases: [string, number, string][] = [
    ['{"method": "M"}', 2, "2 fds attached but none named"],
    ['{"method": "M", "fds": {"a": 0}}', 2, "2 fds attached but 1 named"],
    ['{"method": "M", "fds": {"a": 1}}', 1, 'fd "a" is 1, not an index below 1'],
    ['{"method": "M", "fds": {"a": 0, "b": 0}}', 2, "fd 0 is named twice"],
    ['{"method": "M", "fds": {}}', 17, "too many fds: 17 (at most 16)"],
  ];
  for (const [json, n, msg] of cases) {
    await t.step(msg, () => {
      assertThrows(() => decodeMessage(enc.encode(json), "request", n), ProtocolError, msg);
    });
  }
  assertEquals(decodeMessage(enc.encode('{"method":"M","fds":{"tty":0}}'), "request", 1), {
    method: "M",
    fds: { tty: 0 },
  } as never);
});

Deno.test("decodeMessage() requires a reply's error to carry a message", () => {
  assertThrows(
    () => decodeMessage(enc.encode('{"error": "x"}'), "reply", 0),
    ProtocolError,
    '"error" must be an object with a "message"',
  );
});

// Server and client

Deno.test("RpcServer.register() rejects a duplicate method name", () => {
  const s = new RpcServer({ allowUid: () => true });
  s.register("containerManager.Wait", () => ({}));
  assertThrows(
    () => s.register("containerManager.Wait", () => ({})),
    Error,
    'method "containerManager.Wait" is already registered',
  );
});

Deno.test("RpcClient.call() returns the handler's result over a socketpair", async () => {
  await overPair(
    (s) =>
      s.register("Add", (arg, _fds, ctx) => {
        const a = arg as { x: number; y: number };
        return { result: { sum: a.x + a.y, peerPid: ctx.peer.pid, method: ctx.method } };
      }),
    async (c) => {
      const r = await c.call("Add", { x: 2, y: 3 });
      assertEquals(r, { result: { sum: 5, peerPid: Deno.pid, method: "Add" }, fds: {} });
      // Several calls queue on one connection and are answered in order.
      const all = await Promise.all([1, 2, 3].map((x) => c.call("Add", { x, y: 10 })));
      assertEquals(all.map((r) => (r.result as { sum: number }).sum), [11, 12, 13]);
    },
  );
});

Deno.test("RpcClient.callSync() calls over a socket file of mode 0600", async () => {
  await withWorkerServer((path) => {
    assertEquals(Deno.statSync(path).mode! & 0o777, 0o600);
    const c = RpcClient.connect(path);
    try {
      assertEquals(c.callSync("Echo", { a: [1, "two"] }).result, { a: [1, "two"] });
      assertEquals(c.callSync("Echo", null).result, null);
      const e = assertThrows(
        () => c.callSync("Fail", {}),
        Error,
        "EPERM (Operation not permitted)",
      );
      assertEquals(e.name, "SyscallError");
      assertThrows(() => c.callSync("Nope", {}), Error, 'unknown method "Nope"');
      const big = "x".repeat(INLINE_MAX * 5);
      assertEquals(c.callSync("Echo", big).result, big);
    } finally {
      c.close();
    }
  });
});

Deno.test("RpcClient.call() of an unknown method throws 'unknown method'", async () => {
  await overPair(echo, async (c) => {
    await assertRejects(() => c.call("Nope", {}), Error, 'unknown method "Nope"');
    // The connection stays usable.
    assertEquals((await c.call("Echo", 1)).result, 1);
  });
});

Deno.test("RpcClient.call() throws the handler's error with its message and name", async () => {
  await overPair(
    (s) => {
      s.register("Fail", () => {
        throw new SyscallError("mount", 1, '"proc" on "/proc"').wrap("preparing rootfs");
      });
      s.register("Reject", () => Promise.reject(new TypeError("bad arg")));
    },
    async (c) => {
      const e = await assertRejects(
        () => c.call("Fail", {}),
        Error,
        'preparing rootfs: mount "proc" on "/proc": EPERM (Operation not permitted)',
      );
      assertEquals(e.name, "SyscallError");
      const t = await assertRejects(() => c.call("Reject", {}), Error, "bad arg");
      assertEquals(t.name, "TypeError");
    },
  );
});

Deno.test("RpcServer passes a request's fd and closes it after the call", async () => {
  const [rd, wr] = pipe();
  try {
    await overPair(
      (s) => s.register("Read", (_arg, fds) => ({ result: read(fds.in!) })),
      async (c) => {
        write(wr, "hello through the fd");
        const r = await c.call("Read", null, { in: rd });
        assertEquals(r.result, "hello through the fd");
        assertEquals(copies(rd), 2, "rd and wr remain: the server's copy was closed");
      },
    );
  } finally {
    closeFd(rd);
    closeFd(wr);
  }
});

Deno.test("RpcServer lets a handler keep an fd by deleting it from the map", async () => {
  const [rd, wr] = pipe();
  let kept = -1;
  try {
    await overPair(
      (s) =>
        s.register("Keep", (_arg, fds) => {
          kept = fds.in!;
          delete fds.in;
          return {};
        }),
      async (c) => {
        await c.call("Keep", null, { in: rd });
        assertEquals(copies(rd), 3, "rd, wr and the handler's copy");
        write(wr, "later");
        assertEquals(read(kept), "later");
      },
    );
  } finally {
    for (const fd of [rd, wr, kept]) closeFd(fd);
  }
});

Deno.test("RpcServer sends a handler's reply fds and closes its copies", async () => {
  await withWorkerServer((path) => {
    const c = RpcClient.connect(path);
    try {
      const r = c.callSync("Open", null);
      assertEquals(r.result, "here");
      assertEquals(Object.keys(r.fds), ["out"]);
      // Calls on a connection are answered in order, so once this one returns the server has
      // finished the previous call, closing its copy.
      c.callSync("Echo", null);
      assertEquals(copies(r.fds.out!), 1, "only the client's copy is open");
      assertEquals(read(r.fds.out!), "from the server");
      closeFd(r.fds.out!);
    } finally {
      c.close();
    }
  });
});

Deno.test("RpcClient.call() with more than 16 fds throws before sending", async () => {
  await overPair(echo, async (c) => {
    const fds = Object.fromEntries(Array.from({ length: MAX_FDS + 1 }, (_, i) => [`f${i}`, 0]));
    await assertRejects(() => c.call("Echo", null, fds), Error, "too many fds: 17 (at most 16)");
    assertEquals((await c.call("Echo", "still here")).result, "still here");
  });
});

Deno.test("RpcServer answers a request with too many fds with an error and closes them", async () => {
  const server = new RpcServer({ allowUid: () => true });
  echo(server);
  const [a, b] = socketpairSeqpacket();
  const [rd, wr] = pipe();
  const done = server.serveConnection(a);
  try {
    const names = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, i]));
    sendMsg(
      b,
      enc.encode(JSON.stringify({ method: "Echo", arg: 1, fds: names })),
      Array(20).fill(rd),
    );
    const r = (await recvMsgAsync(b, 4096, 0))!;
    assertStringIncludes(dec.decode(r.data), "too many fds: 20 (at most 16)");
    assertEquals(copies(rd), 2, "rd and wr remain: the server closed the 20 it received");
  } finally {
    server.close();
    await done;
    for (const fd of [b, rd, wr]) closeFd(fd);
  }
});

Deno.test("RpcServer answers a malformed request with an error and stays usable", async () => {
  const server = new RpcServer({ allowUid: () => true });
  echo(server);
  const [a, b] = socketpairSeqpacket();
  const done = server.serveConnection(a);
  try {
    sendMsg(b, enc.encode('{"arg": 1}'));
    assertStringIncludes(
      dec.decode((await recvMsgAsync(b, 4096, 0))!.data),
      'missing \\"method\\"',
    );
    sendMsg(b, enc.encode("not json"));
    assertStringIncludes(
      dec.decode((await recvMsgAsync(b, 4096, 0))!.data),
      "malformed request (8 bytes)",
    );
    sendMsg(b, enc.encode('{"id": 9, "method": "Echo", "arg": "ok"}'));
    assertEquals(JSON.parse(dec.decode((await recvMsgAsync(b, 4096, 0))!.data)), {
      id: 9,
      result: "ok",
    });
  } finally {
    server.close();
    await done;
    closeFd(b);
  }
});

Deno.test("RpcServer closes a refused peer at once without answering", async () => {
  const seen: number[] = [];
  await overFile(echo, async (path) => {
    const c = RpcClient.connect(path);
    try {
      await assertRejects(
        () => c.call("Echo", 1),
        Error,
        `sandbox "${path}" closed the connection before replying to "Echo"`,
      );
    } finally {
      c.close();
    }
    assertEquals(seen, [Deno.uid()]);
  }, (uid) => {
    seen.push(uid);
    return false;
  });
});

Deno.test("RpcServer runs calls on two connections concurrently", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const waitEntered = new Promise<void>((r) => (entered = r));
  await overFile((s) => {
    s.register("Wait", async () => {
      entered();
      await released;
      return { result: "waited" };
    });
    s.register("Release", () => {
      release();
      return { result: "released" };
    });
  }, async (path) => {
    const c1 = RpcClient.connect(path);
    const c2 = RpcClient.connect(path);
    try {
      const waiting = c1.call("Wait", null);
      await waitEntered; // the server is inside Wait: a second call must not queue behind it
      assertEquals((await c2.call("Release", null)).result, "released");
      assertEquals((await waiting).result, "waited");
    } finally {
      c1.close();
      c2.close();
    }
  });
});

Deno.test("RpcServer.close() ends serve() and a pending call sees the connection closed", async () => {
  const server = new RpcServer({ allowUid: () => true });
  let finish!: () => void;
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  server.register("Forever", () =>
    new Promise((r) => {
      finish = () => r({});
      entered();
    }));
  const [a, b] = socketpairSeqpacket();
  const done = server.serveConnection(a);
  const c = RpcClient.fromFd(b, "test server");
  const pending = c.call("Forever", null);
  await inHandler; // the call is pending in the server, not still on its way
  server.close();
  await done;
  await assertRejects(
    () => pending,
    Error,
    'test server closed the connection before replying to "Forever"',
  );
  finish(); // the handler ends later; its reply is dropped and the connection closed
  await new Promise((r) => setTimeout(r, 0));
  c.close();
});

Deno.test("RpcServer drops a connection at end of file and serves the next", async () => {
  await overFile(echo, async (path) => {
    for (let i = 0; i < 3; i++) {
      const c = RpcClient.connect(path);
      assertEquals((await c.call("Echo", i)).result, i);
      c.close();
    }
  });
});

Deno.test("RpcClient.close() during an async call makes it fail", async () => {
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  const slow = (): Promise<HandlerResult> => {
    entered();
    return new Promise(() => {});
  };
  await overPair((s) => s.register("Slow", slow), async (c) => {
    const pending = c.call("Slow", null);
    await inHandler; // the call is pending in the server
    c.close();
    await assertRejects(() => pending, Error, 'closed the connection before replying to "Slow"');
    await assertRejects(() => c.call("Slow", null), Error, 'calling "Slow" on a closed connection');
  });
});

Deno.test("RpcClient.callSync() refuses to overlap an async call", async () => {
  await overPair(echo, async (c) => {
    const p = c.call("Echo", 1);
    assertThrows(() => c.callSync("Echo", 2), Error, "during an async call");
    assertEquals((await p).result, 1);
  });
});

Deno.test("RpcClient carries messages larger than a datagram through a memfd", async () => {
  await overPair(echo, async (c) => {
    const big = "x".repeat(INLINE_MAX * 5);
    assertEquals((await c.call("Echo", big)).result, big);
    assertEquals(copies("/memfd:runts-rpc"), 0, "the memfds were closed");
    await assertRejects(
      () => c.call("Echo", "y".repeat(MAX_MESSAGE)),
      Error,
      "is larger than the limit of 1048576",
    );
  });
});

Deno.test("RpcServer answers with an error when the result cannot be encoded", async () => {
  await overPair((s) => s.register("Big", () => ({ result: 1n })), async (c) => {
    await assertRejects(
      () => c.call("Big", null),
      Error,
      "sending the reply: cannot encode the reply",
    );
  });
});

Deno.test("RpcClient.connect() names the socket path when it cannot connect", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const e = assertThrows(
      () => RpcClient.connect(`${dir}/sock`),
      SyscallError,
      `connecting to sandbox "${dir}/sock": ENOENT (No such file or directory)`,
    );
    assertEquals((e as SyscallError).code, "ENOENT");
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("RpcServer uses one FFI thread for many idle connections", async () => {
  // Deno has 32 blocking threads; 40 idle connections must not take them all.
  await overFile(echo, async (path) => {
    const clients: RpcClient[] = [];
    try {
      // One at a time: a full backlog would block connect() on the thread the server runs on.
      for (let i = 0; i < 40; i++) {
        const c = RpcClient.connect(path);
        clients.push(c);
        assertEquals((await c.call("Echo", i)).result, i);
      }
      // A read needs a blocking thread: if the idle connections held them all it would never
      // finish. The 60 s timer is only a hang guard (no duration is measured).
      let guard: ReturnType<typeof setTimeout> | undefined;
      const read = await Promise.race([
        Deno.readTextFile("/proc/self/stat").then(() => "read"),
        new Promise<string>((r) => guard = setTimeout(() => r("no blocking thread left"), 60_000)),
      ]).finally(() => clearTimeout(guard));
      assertEquals(read, "read");
      assertEquals((await clients[0]!.call("Echo", 2)).result, 2);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

Deno.test("RpcClient.callSync() with a timeout gives up on a peer that never answers", () => {
  const [a, b] = socketpairSeqpacket();
  const client = RpcClient.fromFd(b);
  try {
    // Nobody reads `a`: without the timeout this call would block for ever.
    const e = assertThrows(() => client.callSync("Echo", 1, {}, { timeoutMs: 50 }), Error);
    assert(/EAGAIN|timed out|Resource temporarily unavailable/.test(e.message), e.message);
  } finally {
    client.close();
    closeFd(a);
  }
});
