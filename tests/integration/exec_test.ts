/**
 * `runts exec` into a running container (and ps/kill around it), as root, with a busybox
 * rootfs: exit codes, stdio, the flags that change the process, detached processes and who
 * reaps them, the namespaces they join, and the errors.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { type BundleSpec, leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };

/** A running container made by `run -d`. */
interface Ctr {
  id: string;
  bundle: string;
  /** Host pid of the init. */
  pid: number;
  /** Host pid of the sandbox process (the init's parent). */
  sandboxPid: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 50 ms until it holds or `ms` pass; returns its last value. */
async function waitFor<T>(cond: () => Promise<T> | T, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v || Date.now() > end) return v;
    await sleep(50);
  }
}

async function status(id: string): Promise<string> {
  const r = await runts(["state", id], { root });
  return r.code === 0 ? JSON.parse(r.stdout).status : `(state failed: ${r.stderr.trim()})`;
}

/** `runts ps --format json ID`: host pids. */
async function psPids(id: string): Promise<number[]> {
  const r = await runts(["ps", "--format", "json", id], { root });
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function cmdline(pid: number): string | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter((a) => a).join(" ");
  } catch {
    return undefined;
  }
}

/** The pid among the container's processes whose command line is `cmd` (waits for it). */
async function pidOf(id: string, cmd: string): Promise<number> {
  const pid = await waitFor(async () => (await psPids(id)).find((p) => cmdline(p) === cmd));
  assert(pid !== undefined, `no process "${cmd}" in container ${id}`);
  return pid;
}

/** [state, ppid] from /proc/<pid>/stat, or undefined when the pid is gone. */
function stat(pid: number): [string, number] | undefined {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return [f[0]!, Number(f[1])];
  } catch {
    return undefined;
  }
}

/** The process is gone, or a zombie that is neither ours nor the sandbox's to reap. */
function gone(pid: number, parents: number[]): boolean {
  const s = stat(pid);
  return s === undefined || (s[0] === "Z" && !parents.includes(s[1]));
}

/** `pid (comm)` of zombies whose parent is one of `parents`. */
function zombiesOf(parents: number[]): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const s = stat(Number(e.name));
    if (s && s[0] === "Z" && parents.includes(s[1])) out.push(`${e.name} ppid ${s[1]}`);
  }
  return out;
}

function ppidOf(pid: number): number {
  const st = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^PPid:\s+(\d+)$/m.exec(st)?.[1]);
}

/** Runs `fn` with a container started by `run -d`; then deletes it and checks nothing is left. */
async function withContainer(
  id: string,
  args: string[],
  fn: (c: Ctr) => Promise<void>,
  mutate?: (s: BundleSpec) => void,
): Promise<void> {
  const b = await makeBundle({ args, ...(mutate ? { mutate } : {}) });
  try {
    const r = await runts(["run", "-d", "--bundle", b.dir, id], { root });
    assertEquals([r.code, r.stderr], [0, ""]);
    const rec = JSON.parse(await Deno.readTextFile(`${root}/${id}/state.json`));
    assert(rec.pid > 0 && rec.sandboxPid > 0, JSON.stringify(rec));
    await fn({ id, bundle: b.dir, pid: rec.pid, sandboxPid: rec.sandboxPid });
  } finally {
    await runts(["delete", "--force", id], { root });
    await b.cleanup();
  }
  assertEquals(await leftovers(root), NOTHING);
}

Deno.test({
  name: "runts exec returns the process's exit code",
  ...opts,
  async fn() {
    await withContainer("exec-code", ["sleep", "300"], async (c) => {
      const r = await runts(["exec", c.id, "sh", "-c", "echo before; exit 5"], { root });
      assertEquals([r.code, r.stdout, r.stderr], [5, "before\n", ""]);
      const t = await runts(["exec", c.id, "true"], { root });
      assertEquals([t.code, t.stdout, t.stderr], [0, "", ""]);
      assertEquals(await status(c.id), "running", "the init is not affected");
    });
  },
});

Deno.test({
  name: "runts exec returns 128+N when its process is killed by signal N",
  ...opts,
  async fn() {
    await withContainer("exec-signal", ["sleep", "300"], async (c) => {
      for (const [sig, num, arg] of [["SIGKILL", 9, "301"], ["SIGTERM", 15, "302"]] as const) {
        const running = runts(["exec", c.id, "sleep", arg], { root });
        const pid = await pidOf(c.id, `sleep ${arg}`);
        Deno.kill(pid, sig);
        const r = await running;
        assertEquals([r.code, r.stdout, r.stderr], [128 + num, "", ""], `killed by ${sig}`);
        assert(await waitFor(() => stat(pid) === undefined), `pid ${pid} not reaped`);
      }
    });
  },
});

Deno.test({
  name: "runts exec forwards stdin, stdout and stderr",
  ...opts,
  async fn() {
    await withContainer("exec-stdio", ["sleep", "300"], async (c) => {
      const r = await runts(
        ["exec", c.id, "sh", "-c", 'read a; echo "got:$a"; echo oops >&2; cat'],
        { root, stdin: "hello\nrest 1\nrest 2\n" },
      );
      assertEquals(r, { code: 0, stdout: "got:hello\nrest 1\nrest 2\n", stderr: "oops\n" });
      // stdin not given: /dev/null, so cat ends at once
      const n = await runts(["exec", c.id, "cat"], { root });
      assertEquals(n, { code: 0, stdout: "", stderr: "" });
    });
  },
});

Deno.test({
  name: "runts exec -e, -u, --cwd and -g set the environment, user, directory and groups",
  ...opts,
  async fn() {
    await withContainer("exec-flags", ["sleep", "300"], async (c) => {
      const script = 'echo "$FOO|$PATH|$RUNTS_TEST_BUNDLE"; id -u; id -g; id -G; pwd';
      const r = await runts([
        "exec",
        "-e",
        "FOO=bar",
        "--env",
        "PATH=/bin",
        "-u",
        "1000:1000",
        "--cwd",
        "/tmp",
        "-g",
        "10",
        "--additional-gids",
        "20",
        c.id,
        "sh",
        "-c",
        script,
      ], { root });
      assertEquals(r.stderr, "");
      assertEquals(r.stdout, `bar|/bin|${c.bundle}\n1000\n1000\n1000 10 20\n/tmp\n`);
      assertEquals(r.code, 0);
      // --user UID alone keeps the spec's gid (0), as runc does
      const u = await runts(["exec", "--user", "1000", c.id, "sh", "-c", "id -u; id -g"], { root });
      assertEquals([u.code, u.stdout, u.stderr], [0, "1000\n0\n", ""]);
      // without flags: the spec's process (root, cwd /)
      const d = await runts(["exec", c.id, "sh", "-c", "id -u; pwd; echo $FOO"], { root });
      assertEquals([d.code, d.stdout, d.stderr], [0, "0\n/\n\n", ""]);
    });
  },
});

Deno.test({
  name: "runts exec --cap CAP_SYS_ADMIN shows in CapEff",
  ...opts,
  async fn() {
    const SYS_ADMIN = 1n << 21n;
    const capEff = (out: string) => BigInt("0x" + /^CapEff:\s+([0-9a-f]+)$/m.exec(out)![1]!);
    await withContainer("exec-cap", ["sleep", "300"], async (c) => {
      const without = await runts(["exec", c.id, "cat", "/proc/self/status"], { root });
      assertEquals(without.code, 0, without.stderr);
      assertEquals(capEff(without.stdout) & SYS_ADMIN, 0n);
      const withCap = await runts(
        ["exec", "--cap", "CAP_SYS_ADMIN", c.id, "cat", "/proc/self/status"],
        { root },
      );
      assertEquals(withCap.code, 0, withCap.stderr);
      assertEquals(capEff(withCap.stdout), capEff(without.stdout) | SYS_ADMIN);
      // and the capability works: mounting needs CAP_SYS_ADMIN
      const m = await runts(
        ["exec", "--cap", "CAP_SYS_ADMIN", c.id, "sh", "-c", "mount -t tmpfs t /tmp && echo ok"],
        { root },
      );
      assertEquals([m.code, m.stdout], [0, "ok\n"], m.stderr);
      const n = await runts([
        "exec",
        c.id,
        "sh",
        "-c",
        "mount -t tmpfs t /root 2>/dev/null || echo no",
      ], {
        root,
      });
      assertEquals(n.stdout, "no\n");
    });
  },
});

Deno.test({
  name: "runts exec --no-new-privs sets NoNewPrivs when the spec does not",
  ...opts,
  async fn() {
    await withContainer("exec-nnp", ["sleep", "300"], async (c) => {
      const args = [c.id, "grep", "NoNewPrivs", "/proc/self/status"];
      const off = await runts(["exec", ...args], { root });
      assertEquals([off.code, off.stdout, off.stderr], [0, "NoNewPrivs:\t0\n", ""]);
      const on = await runts(["exec", "--no-new-privs", ...args], { root });
      assertEquals([on.code, on.stdout, on.stderr], [0, "NoNewPrivs:\t1\n", ""]);
    }, (s) => (s.process.noNewPrivileges = false));
  },
});

Deno.test({
  name: "runts exec --process runs the process object of the file, not the spec's",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-exec-" });
    try {
      await withContainer("exec-process", ["sleep", "300"], async (c) => {
        const file = `${dir}/process.json`;
        await Deno.writeTextFile(
          file,
          JSON.stringify({
            terminal: false,
            user: { uid: 1000, gid: 1000, additionalGids: [5] },
            args: [
              "sh",
              "-c",
              'echo "$A|$RUNTS_TEST_BUNDLE"; id -u; id -G; pwd; grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status; exit 4',
            ],
            env: ["A=fromjson", "PATH=/bin"],
            cwd: "/tmp",
            capabilities: { bounding: ["CAP_KILL"] },
            noNewPrivileges: true,
          }),
        );
        const r = await runts(["exec", "--process", file, c.id], { root });
        assertEquals(r.stderr, "");
        assertEquals(
          r.stdout,
          "fromjson|\n1000\n1000 5\n/tmp\nCapBnd:\t0000000000000020\nNoNewPrivs:\t1\n",
        );
        assertEquals(r.code, 4);
      }, (s) => (s.process.noNewPrivileges = false));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runts exec: the process joins the init's namespaces",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-exec-" });
    try {
      await withContainer("exec-ns", ["sleep", "300"], async (c) => {
        const pf = `${dir}/pid`;
        const r = await runts(["exec", "--detach", "--pid-file", pf, c.id, "sleep", "303"], {
          root,
        });
        assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
        const pid = Number(await Deno.readTextFile(pf));
        assertEquals(cmdline(pid), "sleep 303");
        for (const ns of ["mnt", "pid", "net", "uts", "ipc", "user", "cgroup"]) {
          const mine = await Deno.readLink(`/proc/${pid}/ns/${ns}`);
          assertEquals(mine, await Deno.readLink(`/proc/${c.pid}/ns/${ns}`), ns);
          if (["mnt", "pid", "net", "uts", "ipc"].includes(ns)) {
            assert(mine !== await Deno.readLink(`/proc/self/ns/${ns}`), `${ns} is the host's`);
          }
        }
        Deno.kill(pid, "SIGKILL");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runts exec --detach --pid-file returns at once with the pid in the file",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-exec-" });
    try {
      await withContainer("exec-detach-pf", ["sleep", "300"], async (c) => {
        const pf = `${dir}/pid`;
        // "At once" is shown without a duration: exec returns (within runts()'s 60 s hang guard)
        // while the process it started, which sleeps for minutes, is still running.
        const r = await runts(["exec", "-d", "--pid-file", pf, c.id, "sleep", "304"], {
          root,
          timeoutMs: 60_000,
        });
        assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
        const text = await Deno.readTextFile(pf);
        assertMatch(text, /^\d+$/);
        const pid = Number(text);
        assertEquals(cmdline(pid), "sleep 304", "the file names the exec'd process, still running");
        assert((await psPids(c.id)).includes(pid), "ps lists it");
        Deno.kill(pid, "SIGKILL");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runts exec --detach without a pid file: the sandbox process is its parent and reaps it",
  ...opts,
  async fn() {
    await withContainer("exec-detach", ["sleep", "300"], async (c) => {
      const r = await runts(["exec", "--detach", c.id, "sleep", "305"], { root });
      assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
      const pid = await pidOf(c.id, "sleep 305");
      assertEquals(ppidOf(pid), c.sandboxPid);
      assertEquals(ppidOf(c.pid), c.sandboxPid);
      Deno.kill(pid, "SIGKILL");
      assert(await waitFor(() => stat(pid) === undefined), `pid ${pid} was not reaped`);
      // a short one too: it exits on its own
      const s = await runts(["exec", "-d", c.id, "sh", "-c", "exit 3"], { root });
      assertEquals([s.code, s.stderr], [0, ""]);
      // It exits on its own and is reaped: polled (no fixed sleep), then shown.
      await waitFor(
        async () =>
          zombiesOf([c.sandboxPid, Deno.pid]).length === 0 && (await psPids(c.id)).length === 1,
        60_000,
      );
      assertEquals(zombiesOf([c.sandboxPid, Deno.pid]), []);
      assertEquals(await psPids(c.id), [c.pid]);
    });
  },
});

Deno.test({
  name: "runts ps prints a table with a CMD column holding the command lines",
  ...opts,
  async fn() {
    await withContainer("exec-ps", ["sleep", "300"], async (c) => {
      const d = await runts(["exec", "-d", c.id, "sleep", "306"], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      const pid = await pidOf(c.id, "sleep 306");
      const r = await runts(["ps", c.id], { root });
      assertEquals([r.code, r.stderr], [0, ""]);
      const lines = r.stdout.trimEnd().split("\n");
      assertEquals(lines[0]!.split(/\s+/), [
        "UID",
        "PID",
        "PPID",
        "C",
        "STIME",
        "TTY",
        "TIME",
        "CMD",
      ]);
      const cmdAt = lines[0]!.indexOf("CMD");
      const rows = lines.slice(1).map((l) => ({
        pid: Number(l.split(/\s+/)[1]),
        cmd: l.slice(cmdAt),
      }));
      assertEquals(rows.find((x) => x.pid === c.pid)?.cmd, "sleep 300");
      assertEquals(rows.find((x) => x.pid === pid)?.cmd, "sleep 306");
      assertEquals(rows.length, 2, r.stdout);
    });
  },
});

/** Starts a foreground exec and a detached one (`sleep 307`, `sleep 308`); returns their pids. */
async function twoExecs(c: Ctr): Promise<{ fg: Promise<{ code: number }>; pids: number[] }> {
  const fg = runts(["exec", c.id, "sleep", "307"], { root });
  const d = await runts(["exec", "-d", c.id, "sleep", "308"], { root });
  assertEquals([d.code, d.stderr], [0, ""]);
  const pids = [await pidOf(c.id, "sleep 307"), await pidOf(c.id, "sleep 308")];
  return { fg, pids };
}

Deno.test({
  name: "runts kill --all ID KILL ends the init and the exec'd processes",
  ...opts,
  async fn() {
    await withContainer("exec-killall", ["sleep", "300"], async (c) => {
      const { fg, pids } = await twoExecs(c);
      const k = await runts(["kill", "--all", c.id, "KILL"], { root });
      assertEquals([k.code, k.stdout, k.stderr], [0, "", ""]);
      assertEquals((await fg).code, 137);
      assertEquals(await waitFor(async () => (await status(c.id)) === "stopped"), true);
      for (const p of [c.pid, ...pids]) {
        assert(await waitFor(() => gone(p, [c.sandboxPid, Deno.pid])), `pid ${p} is left`);
      }
      assertEquals(await psPids(c.id), []);
      assertEquals(zombiesOf([c.sandboxPid, Deno.pid]), []);
    });
  },
});

Deno.test({
  name: "killing the init of a pid-namespaced container ends the exec'd processes, no zombies",
  ...opts,
  async fn() {
    await withContainer("exec-killinit", ["sleep", "300"], async (c) => {
      const { fg, pids } = await twoExecs(c);
      const k = await runts(["kill", c.id, "KILL"], { root });
      assertEquals([k.code, k.stdout, k.stderr], [0, "", ""]);
      assertEquals((await fg).code, 137);
      assertEquals(await waitFor(async () => (await status(c.id)) === "stopped"), true);
      for (const p of [c.pid, ...pids]) {
        assert(await waitFor(() => gone(p, [c.sandboxPid, Deno.pid])), `pid ${p} is left`);
      }
      assertEquals(zombiesOf([c.sandboxPid, Deno.pid]), []);
    });
  },
});

Deno.test({
  name: "runts kill sends TERM to a shell init whose trap runs and stops the container",
  ...opts,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "runts-exec-" });
    const mutate = (s: BundleSpec) => {
      s.mounts.push({ destination: "/tmp", type: "bind", source: dir, options: ["rbind"] });
    };
    const args = [
      "sh",
      "-c",
      "trap 'echo bye >/tmp/x; exit 3' TERM; echo up >/tmp/ready; while :; do sleep 0.1; done",
    ];
    const ready = () => Deno.stat(`${dir}/ready`).then(() => true, () => false);
    try {
      await t.step("run in the foreground returns the trap's exit code", async () => {
        const b = await makeBundle({ args, mutate });
        try {
          const running = runts(["run", "-b", b.dir, "exec-trap-fg"], { root });
          assert(await waitFor(ready), "the init did not start");
          const k = await runts(["kill", "exec-trap-fg"], { root });
          assertEquals([k.code, k.stderr], [0, ""]);
          const r = await running;
          assertEquals([r.code, r.stdout, r.stderr], [3, "", ""]);
          assertEquals(await Deno.readTextFile(`${dir}/x`), "bye\n");
        } finally {
          await b.cleanup();
        }
        assertEquals(await leftovers(root), NOTHING);
      });
      await Deno.remove(`${dir}/x`);
      await Deno.remove(`${dir}/ready`);
      await t.step("run -d: the status becomes stopped", async () => {
        await withContainer("exec-trap-d", args, async (c) => {
          assert(await waitFor(ready), "the init did not start");
          const k = await runts(["kill", c.id], { root });
          assertEquals([k.code, k.stderr], [0, ""]);
          assertEquals(await waitFor(async () => (await status(c.id)) === "stopped"), true);
          assertEquals(await Deno.readTextFile(`${dir}/x`), "bye\n");
          const d = await runts(["delete", c.id], { root });
          assertEquals([d.code, d.stderr], [0, ""]);
        }, mutate);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The single line runts prints on failure. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assertEquals(lines.length, 1, `expected one line of error, got: ${stderr}`);
  return lines[0]!;
}

Deno.test({
  name: "runts exec into a stopped or an unknown container fails with runc's status 255",
  ...opts,
  async fn() {
    await withContainer("exec-stopped", ["true"], async (c) => {
      assertEquals(await waitFor(async () => (await status(c.id)) === "stopped"), true);
      const r = await runts(["exec", c.id, "true"], { root });
      assertEquals([r.code, r.stdout], [255, ""]);
      assertEquals(oneLine(r.stderr), "runts: exec failed: cannot exec in a stopped container");
    });
    const u = await runts(["exec", "no-such-id", "true"], { root });
    assertEquals([u.code, u.stdout], [255, ""]);
    assertEquals(
      oneLine(u.stderr),
      'runts: exec failed: container "no-such-id" does not exist',
    );
  },
});

Deno.test({
  name: "runts exec names a missing binary, a bad --user and a bad process.json",
  ...opts,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "runts-exec-" });
    try {
      await withContainer("exec-errors", ["sleep", "300"], async (c) => {
        await t.step("missing binary", async () => {
          const r = await runts(["exec", c.id, "nope"], { root });
          assertEquals([r.code, r.stdout], [255, ""]);
          assertStringIncludes(
            oneLine(r.stderr),
            'exec: "nope": executable file not found in $PATH',
          );
          assertEquals(await psPids(c.id), [c.pid], "nothing is left running");
        });
        await t.step("bad --user", async () => {
          const r = await runts(["exec", "--user", "abc", c.id, "true"], { root });
          assertEquals([r.code, r.stdout], [255, ""]);
          assertStringIncludes(oneLine(r.stderr), '"abc"');
        });
        await t.step("malformed process.json", async () => {
          const file = `${dir}/process.json`;
          await Deno.writeTextFile(file, '{"args": [\n');
          const r = await runts(["exec", "--process", file, c.id], { root });
          assertEquals([r.code, r.stdout], [255, ""]);
          assertStringIncludes(oneLine(r.stderr), file);
        });
        await t.step("missing process.json", async () => {
          const file = `${dir}/missing.json`;
          const r = await runts(["exec", "-p", file, c.id], { root });
          assertEquals([r.code, r.stdout], [255, ""]);
          assertStringIncludes(oneLine(r.stderr), file);
        });
        assertEquals(await status(c.id), "running");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
