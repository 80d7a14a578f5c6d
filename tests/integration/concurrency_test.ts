/**
 * Commands racing on one container: each verb is one step under the container's lock, so two
 * commands at once give the outcome of one after the other, whichever came first; a `create`
 * killed at any moment leaves what `delete --force` removes entirely. The tests assert the
 * outcomes (which command won, what the loser says, what is left), never how long anything took.
 */
import { assert, assertEquals } from "../assert.ts";
import { DEFAULT_PARENT } from "../../src/cgroup/manager.ts";
import {
  type Bundle,
  leftovers,
  makeBundle,
  newRoot,
  runts,
  type RuntsResult,
} from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const tag = `${Deno.pid}`;

/** The cgroup directories of a container (default cgroupsPath) that exist. */
function cgroupDirs(id: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/sys/fs/cgroup")) {
    const dir = `/sys/fs/cgroup/${e.name}${DEFAULT_PARENT}/${id}`;
    try {
      if (Deno.statSync(dir).isDirectory) out.push(dir);
    } catch {
      // not in this hierarchy
    }
  }
  return out;
}

/**
 * Nothing of `ids` is left: no state dir, mount, process, socket or cgroup. An init whose
 * sandbox process was killed exits once it reads EOF on its control pipe, so what is left is
 * looked at again (polled, up to 300 times) before it counts.
 */
async function assertNothingLeft(ids: string[]): Promise<void> {
  let left = await leftovers(root);
  let cgroups = ids.flatMap(cgroupDirs);
  for (let i = 0; i < 300 && (left.processes.length > 0 || cgroups.length > 0); i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = await leftovers(root);
    cgroups = ids.flatMap(cgroupDirs);
  }
  assertEquals({ ...left, cgroups }, { dirs: [], mounts: [], processes: [], cgroups: [] });
}

/** The status `runts state` reports. */
async function statusOf(id: string): Promise<string> {
  const r = await runts(["state", id], { root });
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).status;
}

/** Of two results, the one that succeeded and the other; fails unless exactly one did. */
function oneWon(a: RuntsResult, b: RuntsResult): [RuntsResult, RuntsResult] {
  const ok = [a, b].filter((r) => r.code === 0);
  assertEquals(ok.length, 1, `exactly one must succeed: ${JSON.stringify([a, b])}`);
  return a.code === 0 ? [a, b] : [b, a];
}

async function withBundle(args: string[], fn: (b: Bundle) => Promise<void>): Promise<void> {
  const b = await makeBundle({ args });
  try {
    await fn(b);
  } finally {
    await b.cleanup();
  }
}

async function create(b: Bundle, id: string): Promise<void> {
  const r = await runts(["create", "--bundle", b.dir, id], { root });
  assertEquals([r.code, r.stderr], [0, ""]);
}

Deno.test({
  name: "two starts at once: one succeeds, the other says why, state stays running",
  ...opts,
  fn: () =>
    withBundle(["sleep", "1000"], async (b) => {
      const id = `two-starts-${tag}`;
      await create(b, id);
      const [s1, s2] = await Promise.all([
        runts(["start", id], { root }),
        runts(["start", id], { root }),
      ]);
      const [won, lost] = oneWon(s1, s2);
      assertEquals(won.stderr, "");
      assertEquals(lost.code, 1);
      assertEquals(lost.stderr.trim(), `runts: cannot start container "${id}": it is running`);
      assertEquals(await statusOf(id), "running");
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      await assertNothingLeft([id]);
    }),
});

Deno.test({
  name: "two creates of one id at once: one wins, nothing of the loser is left",
  ...opts,
  fn: () =>
    withBundle(["sleep", "1000"], async (b) => {
      const id = `two-creates-${tag}`;
      const [c1, c2] = await Promise.all([
        runts(["create", "--bundle", b.dir, id], { root }),
        runts(["create", "--bundle", b.dir, id], { root }),
      ]);
      const [, lost] = oneWon(c1, c2);
      assertEquals(lost.code, 1);
      assertEquals(lost.stderr.trim(), `runts: container "${id}" already exists`);
      assertEquals(await statusOf(id), "created");
      // One sandbox process and one init (a clone of it, blocked before execve): the winner's.
      const left = await leftovers(root);
      assertEquals(left.dirs, [id]);
      const rec = JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`));
      const pids = left.processes.map((p) => Number(p.split(" ")[0])).sort((a, b) => a - b);
      assertEquals(pids, [rec.sandboxPid, rec.pid].sort((a, b) => a - b));
      assertEquals((await runts(["delete", id], { root })).code, 0);
      await assertNothingLeft([id]);
    }),
});

Deno.test({
  name: "two deletes at once: one deletes, the other finds nothing",
  ...opts,
  fn: () =>
    withBundle(["sleep", "1000"], async (b) => {
      const id = `two-deletes-${tag}`;
      await create(b, id);
      const [d1, d2] = await Promise.all([
        runts(["delete", id], { root }),
        runts(["delete", id], { root }),
      ]);
      const [won, lost] = oneWon(d1, d2);
      assertEquals(won.stderr, "");
      assertEquals(lost.stderr.trim(), `runts: container "${id}" does not exist`);
      await assertNothingLeft([id]);
    }),
});

Deno.test({
  name: "kill during delete: the delete wins, the kill acted before it or finds nothing",
  ...opts,
  fn: () =>
    withBundle(["sleep", "1000"], async (b) => {
      const id = `kill-delete-${tag}`;
      await create(b, id);
      assertEquals((await runts(["start", id], { root })).code, 0);
      const [d, k] = await Promise.all([
        runts(["delete", "--force", id], { root }),
        runts(["kill", id, "KILL"], { root }),
      ]);
      assertEquals([d.code, d.stderr], [0, ""]);
      if (k.code !== 0) {
        assertEquals([k.code, k.stderr.trim()], [1, `runts: container "${id}" does not exist`]);
      } else assertEquals(k.stderr, "");
      await assertNothingLeft([id]);
    }),
});

Deno.test({
  name: "pause during start: the container ends paused, and a refused start names why",
  ...opts,
  fn: () =>
    withBundle(["sleep", "1000"], async (b) => {
      const id = `pause-start-${tag}`;
      await create(b, id);
      const [s, p] = await Promise.all([
        runts(["start", id], { root }),
        runts(["pause", id], { root }),
      ]);
      // A created container may be paused too: the pause always succeeds. The start succeeds
      // when it came first; otherwise it finds the container paused.
      assertEquals([p.code, p.stderr], [0, ""]);
      if (s.code !== 0) {
        assertEquals([s.code, s.stderr.trim()], [
          1,
          `runts: cannot start container "${id}": it is paused`,
        ]);
      } else assertEquals(s.stderr, "");
      assertEquals(await statusOf(id), "paused");
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      await assertNothingLeft([id]);
    }),
});

Deno.test({
  name: "create killed with SIGKILL at random moments: delete --force leaves nothing",
  ...opts,
  fn: () =>
    withBundle(["sleep", "1000"], async (b) => {
      // How long a whole create takes here picks the moments to kill at (not asserted on).
      const probe = `killed-create-probe-${tag}`;
      const t0 = performance.now();
      await create(b, probe);
      const whole = performance.now() - t0;
      assertEquals((await runts(["delete", "--force", probe], { root })).code, 0);
      const moments: number[] = [];
      for (let i = 0; i < 16; i++) {
        const id = `killed-create-${tag}-${i}`;
        const ms = Math.floor(Math.random() * whole * 1.1);
        moments.push(ms);
        const r = await runts(["create", "--bundle", b.dir, id], { root, timeoutMs: ms });
        assert(r.code === 0 || r.code === 137, `create: ${r.code} ${r.stderr}`);
        const d = await runts(["delete", "--force", id], { root });
        assertEquals([d.code, d.stderr], [0, ""], `killed after ${ms} ms`);
        await assertNothingLeft([id]);
      }
      console.log(`killed create after ${moments.sort((a, b) => a - b).join(", ")} ms`);
    }),
});

Deno.test({
  name: "a sandbox process killed with SIGKILL: the init still runs, delete cleans everything",
  ...opts,
  fn: () =>
    withBundle(["sleep", "1000"], async (b) => {
      const id = `killed-sandbox-${tag}`;
      await create(b, id);
      assertEquals((await runts(["start", id], { root })).code, 0);
      const rec = JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`));
      Deno.kill(rec.sandboxPid, "SIGKILL");
      // The kill is delivered at once; the process is gone once /proc says so.
      const gone = () => {
        try {
          const st = Deno.readTextFileSync(`/proc/${rec.sandboxPid}/stat`).split(" ")[2];
          return st === "Z" || st === "X";
        } catch {
          return true; // reaped
        }
      };
      for (let i = 0; i < 600 && !gone(); i++) await new Promise((r) => setTimeout(r, 100));
      assertEquals(await statusOf(id), "running", "the init is a host process of its own");
      const d = await runts(["delete", "--force", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      await assertNothingLeft([id]);
    }),
});

Deno.test({
  name: "eight creates of different ids in parallel all succeed and list shows them",
  ...opts,
  fn: () =>
    withBundle(["sleep", "1000"], async (b) => {
      const ids = Array.from({ length: 8 }, (_, i) => `parallel-${tag}-${i}`);
      const rs = await Promise.all(
        ids.map((id) => runts(["create", "--bundle", b.dir, id], { root })),
      );
      assertEquals(rs.map((r) => [r.code, r.stderr]), ids.map(() => [0, ""]));
      const list = await runts(["list", "-q"], { root });
      assertEquals(list.stdout.trim().split("\n"), [...ids].sort());
      const states = await Promise.all(ids.map(statusOf));
      assertEquals(states, ids.map(() => "created"));
      const ds = await Promise.all(ids.map((id) => runts(["delete", id], { root })));
      assertEquals(ds.map((r) => r.code), ids.map(() => 0));
      await assertNothingLeft(ids);
    }),
});
