/**
 * The spare sandbox process (src/sandbox/spare.ts): a create leaves one for the next create of
 * its --root, which adopts it; it is no container (`list`), exits when not adopted for
 * RUNTS_SPARE_IDLE_MS, reads `boot <id>` once adopted; on only with RUNTS_SPARE=1.
 */
import { assert, assertEquals } from "../assert.ts";
import { exists, makeBundle, newRoot, runts, RUNTS_BIN } from "./_helpers.ts";

const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const ON = { RUNTS_SPARE: "1" };

/**
 * Pids of the spare sandbox processes of `root` that wait for a create (`runts --root ROOT boot
 * --spare` whose socket `.spare-<pid>-...` is in root; an adopted one keeps its command line).
 */
function spares(root: string): number[] {
  const waiting = spareSockets(root).map((n) => Number(n.split("-")[1]));
  return allSpares(root).filter((p) => waiting.includes(p));
}

/** Pids of every process started as a spare of `root`, adopted or not. */
function allSpares(root: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      const r = argv.indexOf("--root");
      if (r >= 0 && argv[r + 1] === root && argv.some((a) => a.startsWith("--spare="))) {
        out.push(Number(e.name));
      }
    } catch {
      // exited meanwhile
    }
  }
  return out.sort();
}

/** Names of the spares' sockets in root. */
function spareSockets(root: string): string[] {
  return [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => n.startsWith(".spare-"));
}

function sandboxPid(root: string, id: string): number {
  return JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`)).sandboxPid;
}

/** Waits (up to 30 s, polling) until `pids` are all gone. */
async function gone(pids: number[]): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if (pids.every((p) => !exists(`/proc/${p}`))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

Deno.test({
  name: "spare: a create leaves one spare, the next create adopts it, list shows containers only",
  ...opts,
  async fn() {
    const root = await newRoot();
    const b = await makeBundle({ args: ["sleep", "100"] });
    const id1 = `spare-a-${Deno.pid}`, id2 = `spare-b-${Deno.pid}`;
    try {
      assertEquals((await runts(["create", "-b", b.dir, id1], { root, env: ON })).code, 0);
      const first = spares(root);
      assertEquals(first.length, 1, "one spare after the first create");
      assertEquals(spareSockets(root).length, 1);
      assert(sandboxPid(root, id1) !== first[0], "the first create started its own sandbox");

      // Variables the sandbox process does not read (PWD, a benchmark's padding) do not matter.
      const noise = { ...ON, HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET: "42" };
      assertEquals((await runts(["create", "-b", b.dir, id2], { root, env: noise })).code, 0);
      assertEquals(sandboxPid(root, id2), first[0], "the second create adopted the spare");
      const argv = Deno.readTextFileSync(`/proc/${first[0]}/cmdline`).split("\0");
      assertEquals(argv[argv.indexOf("boot") + 1], id2, "its command line names the container");
      const second = spares(root);
      assertEquals(second.length, 1, "and left a new one");
      assert(second[0] !== first[0]);

      const list = await runts(["list", "-q"], { root });
      assertEquals(list.stdout.trim().split("\n").sort(), [id1, id2].sort());

      // It logs where a sandbox process of that container would (its warnings, --debug lines).
      assert(
        exists(`${root}/${id2}/sandbox.log`),
        "the adopted spare's log is the container's",
      );

      // The adopted one is an ordinary sandbox process: start, state, delete as usual.
      assertEquals((await runts(["start", id2], { root, env: ON })).code, 0);
      const st = JSON.parse((await runts(["state", id2], { root })).stdout);
      assertEquals(st.status, "running");
      assertEquals((await runts(["delete", "-f", id2], { root, env: ON })).code, 0);
      assert(await gone([first[0]!]), "the adopted sandbox process exits with its container");
    } finally {
      await runts(["delete", "-f", id1], { root });
      await runts(["delete", "-f", id2], { root });
      for (const p of allSpares(root)) Deno.kill(p, "SIGKILL");
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "spare: exits and removes its socket when no create adopts it (RUNTS_SPARE_IDLE_MS)",
  ...opts,
  async fn() {
    const root = await newRoot();
    const b = await makeBundle({ args: ["sleep", "100"] });
    const id = `spare-idle-${Deno.pid}`;
    const env = { ...ON, RUNTS_SPARE_IDLE_MS: "3000" };
    try {
      assertEquals((await runts(["create", "-b", b.dir, id], { root, env })).code, 0);
      const s = spares(root);
      assertEquals(s.length, 1);
      assert(await gone(s), "the spare exited");
      assertEquals(spareSockets(root), []);
      // The container and its sandbox process are untouched.
      assertEquals(JSON.parse((await runts(["state", id], { root })).stdout).status, "created");
    } finally {
      await runts(["delete", "-f", id], { root });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "spare: without RUNTS_SPARE=1 none is started or adopted",
  ...opts,
  async fn() {
    const root = await newRoot();
    const b = await makeBundle({ args: ["sleep", "100"] });
    const id1 = `spare-off-a-${Deno.pid}`, id2 = `spare-off-b-${Deno.pid}`;
    try {
      assertEquals((await runts(["create", "-b", b.dir, id1], { root, env: ON })).code, 0);
      const waiting = spares(root);
      assertEquals(waiting.length, 1);
      const env = {};
      assertEquals((await runts(["create", "-b", b.dir, id2], { root, env })).code, 0);
      // (RUNTS_SPARE is not part of a spare's key: only the switch refuses it here)
      assert(sandboxPid(root, id2) !== waiting[0], "not adopted without RUNTS_SPARE=1");
      assertEquals(spares(root), waiting, "and no other spare started");
      const root2 = await newRoot();
      const id3 = `spare-off-c-${Deno.pid}`;
      assertEquals((await runts(["create", "-b", b.dir, id3], { root: root2, env })).code, 0);
      assertEquals(spares(root2), []);
      assertEquals(spareSockets(root2), []);
      await runts(["delete", "-f", id3], { root: root2 });
    } finally {
      await runts(["delete", "-f", id1], { root });
      await runts(["delete", "-f", id2], { root });
      for (const p of allSpares(root)) Deno.kill(p, "SIGKILL");
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "spare: a create with --pid-file neither adopts nor starts one (its init is the caller's)",
  ...opts,
  async fn() {
    const root = await newRoot();
    const b = await makeBundle({ args: ["sleep", "100"] });
    const id1 = `spare-pf-a-${Deno.pid}`, id2 = `spare-pf-b-${Deno.pid}`;
    const pidFile = `${root}/../${id2}.pid`;
    try {
      assertEquals((await runts(["create", "-b", b.dir, id1], { root, env: ON })).code, 0);
      const waiting = spares(root);
      assertEquals(waiting.length, 1);
      const r = await runts(["create", "-b", b.dir, "--pid-file", pidFile, id2], {
        root,
        env: ON,
      });
      assertEquals(r.code, 0, r.stderr);
      assert(sandboxPid(root, id2) !== waiting[0], "not adopted with a pid file");
      assertEquals(spares(root), waiting, "and no other spare started");
    } finally {
      await runts(["delete", "-f", id1], { root });
      await runts(["delete", "-f", id2], { root });
      for (const p of allSpares(root)) Deno.kill(p, "SIGKILL");
      await Deno.remove(pidFile).catch(() => {});
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "spare: a create in another mount namespace starts its own sandbox process",
  ...opts,
  async fn() {
    const root = await newRoot();
    const b = await makeBundle({ args: ["sleep", "100"] });
    const id1 = `spare-ns-a-${Deno.pid}`, id2 = `spare-ns-b-${Deno.pid}`;
    try {
      assertEquals((await runts(["create", "-b", b.dir, id1], { root, env: ON })).code, 0);
      const waiting = spares(root);
      assertEquals(waiting.length, 1);
      // The same command from a private mount namespace (another view of /sys/fs/cgroup, /dev):
      // a sandbox process started there would see that view, the spare does not.
      // Its stderr goes to a file: the sandbox process it leaves would hold a pipe open.
      const errFile = `${b.dir}/unshare.err`;
      const r = await new Deno.Command("sh", {
        args: [
          "-c",
          'exec unshare --mount --propagation private "$@" >/dev/null 2>"$0"',
          errFile,
          RUNTS_BIN,
          "--root",
          root,
          "create",
          "-b",
          b.dir,
          id2,
        ],
        env: ON,
      }).output();
      assertEquals([r.code, Deno.readTextFileSync(errFile)], [0, ""]);
      assert(!waiting.includes(sandboxPid(root, id2)), "the host's spare was not adopted");
      assert(spares(root).includes(waiting[0]!), "it still waits for a create of its own kind");
    } finally {
      for (const id of [id1, id2]) await runts(["delete", "-f", id], { root });
      for (const p of allSpares(root)) Deno.kill(p, "SIGKILL");
      await b.cleanup();
    }
  },
});
