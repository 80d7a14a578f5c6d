/**
 * Terminals (process.terminal), as root, with a busybox rootfs: the pty master handed to a
 * `--console-socket` (received here over a SOCK_STREAM unix socket with SCM_RIGHTS), the relay
 * of `runts run` when runts holds the master itself, and `runts exec -t`.
 */
import { SyscallError } from "../../ffi/error.ts";
import { closeFd } from "../../ffi/process.ts";
import { accept, recvMsg, setNonblocking } from "../../ffi/socket.ts";
import { encodeSockaddrUn } from "../../ffi/structs/msghdr.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";
import { rawSyscall, sys } from "../../ffi/syscall.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const EAGAIN = 11;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A console socket: a listening AF_UNIX SOCK_STREAM socket (non-blocking) bound to `path`. */
function listenConsole(path: string): number {
  const fd = sys(
    "socket",
    "console socket",
    SYS.socket,
    AF_UNIX,
    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
  );
  const a = encodeSockaddrUn(new TextEncoder().encode(path));
  sys("bind", path, SYS.bind, fd, a.addr, a.len);
  sys("listen", path, SYS.listen, fd, 4);
  return fd;
}

/** Accepts the runtime's connection and receives the pty master it sends (within `ms`). */
async function receiveMaster(listener: number, ms = 60_000): Promise<number> {
  const end = Date.now() + ms;
  let conn: number | null = null;
  while ((conn = accept(listener)) === null) {
    if (Date.now() > end) throw new Error("nobody connected to the console socket");
    await sleep(20);
  }
  try {
    setNonblocking(conn);
    for (;;) {
      try {
        const msg = recvMsg(conn, 4096, 1);
        const fd = msg?.fds[0];
        if (fd === undefined) throw new Error("the console socket got no fd");
        return fd;
      } catch (e) {
        if (!(e instanceof SyscallError && e.errno === EAGAIN) || Date.now() > end) throw e;
        await sleep(20);
      }
    }
  } finally {
    closeFd(conn);
  }
}

function write(fd: number, text: string): void {
  const b = new TextEncoder().encode(text);
  assertEquals(rawSyscall(SYS.write, fd, b, b.byteLength), b.byteLength);
}

/**
 * Reads the (non-blocking) pty master until `re` matches what was read, the other side is
 * closed (EIO), or `ms` pass; returns everything read. With `re` null: reads until the other
 * side is closed, and appends "[not closed]" when `ms` pass first.
 */
async function readUntil(fd: number, re: RegExp | null, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  const buf = new Uint8Array(4096);
  const dec = new TextDecoder();
  let out = "";
  while (!re?.test(out) && Date.now() < end) {
    const n = rawSyscall(SYS.read, fd, buf, buf.byteLength);
    if (n === -EAGAIN) await sleep(20);
    else if (n <= 0) return re === null ? out : out + `[read: ${n}]`;
    else out += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return re === null ? out + "[not closed]" : out;
}

async function status(id: string): Promise<string> {
  const r = await runts(["state", id], { root });
  return r.code === 0 ? JSON.parse(r.stdout).status : `(state failed: ${r.stderr.trim()})`;
}

async function waitStatus(id: string, want: string, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  let s = await status(id);
  while (s !== want && Date.now() < end) {
    await sleep(50);
    s = await status(id);
  }
  return s;
}

Deno.test({
  name: "runts create --console-socket hands over the pty master of the container's shell",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-tty-" });
    const b = await makeBundle({ args: ["sh"], mutate: (s) => (s.process.terminal = true) });
    const id = "tty-console-socket";
    const listener = listenConsole(`${dir}/console.sock`);
    let master = -1;
    try {
      const c = await runts(
        ["create", "--console-socket", `${dir}/console.sock`, "-b", b.dir, id],
        {
          root,
        },
      );
      assertEquals([c.code, c.stdout, c.stderr], [0, "", ""]);
      master = await receiveMaster(listener);
      setNonblocking(master);
      const st = await runts(["start", id], { root });
      assertEquals([st.code, st.stderr], [0, ""]);

      // The shell's prompt and the line discipline's echo come back too: the checks use
      // output the typed text does not contain ($((...)) is expanded by the shell).
      write(master, "echo typed-$((40+2))\n");
      assertStringIncludes(await readUntil(master, /typed-42\r\n/), "typed-42\r\n");
      write(master, "tty; echo tty-done-$((1+1))\n");
      const tty = await readUntil(master, /tty-done-2\r\n/);
      assertMatch(tty, /\r\n\/dev\/pts\/0\r\ntty-done-2\r\n/);
      write(
        master,
        '[ -c /dev/console ] && [ "$(stat -L -c %t:%T /dev/console)" = "$(stat -L -c %t:%T /proc/self/fd/0)" ] && echo console-$((2+3))\n',
      );
      assertStringIncludes(
        await readUntil(master, /console-5\r\n/),
        "console-5\r\n",
        "/dev/console is the container's pty",
      );
      write(master, "exit 7\n");
      const last = await readUntil(master, null);
      assert(!last.includes("[not closed]"), `the shell did not exit: ${last}`);
      assertEquals(await waitStatus(id, "stopped"), "stopped");
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
    } finally {
      closeFd(master);
      closeFd(listener);
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run with process.terminal and no console socket relays the output and exit code",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: ["sh", "-c", "tty; echo hi; exit 4"],
      mutate: (s) => (s.process.terminal = true),
    });
    try {
      // stdin is /dev/null here, not a terminal
      const r = await runts(["run", "-b", b.dir, "tty-run"], { root });
      assertEquals(r, { code: 4, stdout: "/dev/pts/0\r\nhi\r\n", stderr: "" });
      assertEquals(await leftovers(root), NOTHING);

      // stdin from a pipe is copied to the pty
      const b2 = await makeBundle({
        args: ["sh", "-c", 'read a; echo "got:$a"'],
        mutate: (s) => (s.process.terminal = true),
      });
      try {
        const r2 = await runts(["run", "-b", b2.dir, "tty-run-stdin"], { root, stdin: "xyz\n" });
        assertEquals([r2.code, r2.stderr], [0, ""]);
        assertStringIncludes(r2.stdout, "got:xyz\r\n");
      } finally {
        await b2.cleanup();
      }
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts exec -t runs the process on a new pty",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-tty-" });
    const b = await makeBundle({ args: ["sleep", "300"] });
    const id = "tty-exec";
    try {
      const r = await runts(["run", "-d", "-b", b.dir, id], { root });
      assertEquals([r.code, r.stderr], [0, ""]);
      const t = await runts(["exec", "-t", id, "tty"], { root });
      assertEquals([t.code, t.stderr], [0, ""]);
      assertMatch(t.stdout, /^\/dev\/pts\/\d+\r\n$/);
      const e = await runts(["exec", "--tty", id, "sh", "-c", "echo x; exit 6"], { root });
      assertEquals(e, { code: 6, stdout: "x\r\n", stderr: "" });
      const n = await runts(["exec", id, "sh", "-c", "tty || true"], { root });
      assertEquals(n.stdout, "not a tty\n", "without -t there is no terminal");

      // detached, with a console socket: the master comes to us
      const listener = listenConsole(`${dir}/exec.sock`);
      let master = -1;
      try {
        const d = await runts(
          ["exec", "-d", "-t", "--console-socket", `${dir}/exec.sock`, id, "sh"],
          { root },
        );
        assertEquals([d.code, d.stderr], [0, ""]);
        master = await receiveMaster(listener);
        setNonblocking(master);
        write(master, "tty; echo exec-$((3*3))\n");
        const out = await readUntil(master, /exec-9\r\n/);
        assertMatch(out, /\r\n\/dev\/pts\/\d+\r\nexec-9\r\n/);
        write(master, "exit\n");
        const rest = await readUntil(master, null);
        assert(!rest.includes("[not closed]"), `the exec'd shell did not exit: ${rest}`);
      } finally {
        closeFd(master);
        closeFd(listener);
      }
      let pids: number[] = [];
      for (let i = 0; i < 100; i++) {
        pids = JSON.parse((await runts(["ps", "--format", "json", id], { root })).stdout);
        if (pids.length === 1) break;
        await sleep(50);
      }
      assertEquals(pids.length, 1, "only the init is left");
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});
