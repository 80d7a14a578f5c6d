/**
 * cgroup limits through the CLI: read back from the cgroup files of the container's pid, and
 * shown to act (a fork bomb stopped, an OOM kill reported), pause freezing, update changing a
 * limit, stats reporting usage, and no cgroup directory left after delete.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { exists, leftovers, makeBundle, newRoot, runts, waitFor } from "./_helpers.ts";
import { oomLimit } from "./cgroup_host.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };

function pidOf(out: string): number {
  return JSON.parse(out).pid;
}

/** The directory of `pid`'s cgroup in a v1 hierarchy (cpu, memory, pids, freezer...). */
function cgDir(pid: number, controller: string): string {
  const line = Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")
    .find((l) => l.split(":")[1]!.split(",").includes(controller));
  assert(line !== undefined, `no ${controller} hierarchy`);
  return `/sys/fs/cgroup/${controller}${line.split(":")[2]}`;
}

const read = (path: string) => Deno.readTextFileSync(path).trim();
const rand = () => crypto.randomUUID().slice(0, 8);

/** Whether the host has v1 hierarchies (v1 or hybrid), whose files these tests read. */
const V1 = exists("/sys/fs/cgroup/memory/cgroup.procs") &&
  exists("/sys/fs/cgroup/pids/cgroup.procs") && exists("/sys/fs/cgroup/freezer/cgroup.procs");

Deno.test({
  name: "cgroups: limits are written, a pids limit stops a fork bomb, delete removes the cgroup",
  ...opts,
  async fn() {
    if (!V1) {
      console.log("skipped: this test reads cgroup v1 files; the host has cgroup v2 only");
      return;
    }
    const parent = `runts-test-${crypto.randomUUID().slice(0, 8)}`;
    const b = await makeBundle({
      args: ["sleep", "1000"],
      mutate(s) {
        s.linux.cgroupsPath = `/${parent}/limits`;
        s.linux.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 10 } };
      },
    });
    const id = `cg-limits-${rand()}`;
    try {
      assertEquals((await runts(["run", "-d", "-b", b.dir, id], { root })).code, 0);
      const pid = pidOf((await runts(["state", id], { root })).stdout);
      const mem = cgDir(pid, "memory");
      const pids = cgDir(pid, "pids");
      assertEquals(read(`${mem}/memory.limit_in_bytes`), String(64 * 1024 * 1024));
      assertEquals(read(`${pids}/pids.max`), "10");
      const bomb = await runts([
        "exec",
        id,
        "sh",
        "-c",
        "for i in $(seq 20); do sleep 30 & done; echo all-forked",
      ], { root });
      // The shell runs out of pids and gives up: the limit stopped the bomb.
      assertStringIncludes(bomb.stderr, "can't fork");
      assert(!bomb.stdout.includes("all-forked"), "not all 20 processes could start");
      const current = Number(read(`${pids}/pids.current`));
      assert(current <= 10 && current >= 3, `pids.current ${current} within the limit`);
      const u = await runts(["update", "--pids-limit", "33", "--memory", "100m", id], { root });
      assertEquals([u.code, u.stderr], [0, ""]);
      assertEquals(read(`${pids}/pids.max`), "33");
      assertEquals(read(`${mem}/memory.limit_in_bytes`), String(100 * 1024 * 1024));
      const st = await runts(["events", "--stats", id], { root });
      const ev = JSON.parse(st.stdout);
      assertEquals([ev.type, ev.id], ["stats", id]);
      assert(ev.data.memory.usage.usage > 0, "memory usage reported");
      assert(ev.data.pids.current >= 1, "pids reported");
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assert(!exists(mem) && !exists(pids), "the cgroup directories are gone");
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      // The parent cgroup this test named is its own to remove.
      for (const h of Deno.readDirSync("/sys/fs/cgroup")) {
        await Deno.remove(`/sys/fs/cgroup/${h.name}/${parent}`).catch(() => {});
      }
    }
  },
});

Deno.test({
  name: "cgroups: a memory limit OOM-kills and events reports the oom",
  ...opts,
  async fn() {
    if (!V1) {
      console.log("skipped: this test reads cgroup v1 files; the host has cgroup v2 only");
      return;
    }
    const memory = oomLimit(16 * 1024 * 1024);
    if (memory === undefined) {
      console.log("skipped: swap is on and the memory controller does not account it");
      return;
    }
    const b = await makeBundle({
      args: ["sleep", "1000"],
      mutate(s) {
        s.linux.resources = { memory };
      },
    });
    const id = `cg-oom-${rand()}`;
    try {
      assertEquals((await runts(["run", "-d", "-b", b.dir, id], { root })).code, 0);
      const pid = pidOf((await runts(["state", id], { root })).stdout);
      const mem = cgDir(pid, "memory");
      // A tmpfs file is charged to the cgroup: 64 MiB of it cannot fit in 16.
      await runts([
        "exec",
        id,
        "sh",
        "-c",
        "head -c 67108864 /dev/zero > /dev/shm/big; rm -f /dev/shm/big",
      ], {
        root,
      });
      const oom = /oom_kill (\d+)/.exec(read(`${mem}/memory.oom_control`))?.[1];
      assert(Number(oom) >= 1, `oom_kill in memory.oom_control: ${oom}`);
      const st = await runts(["events", "--stats", id], { root });
      assertEquals(JSON.parse(st.stdout).type, "stats");
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assert(!exists(mem), "the memory cgroup is gone");
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "cgroups: pause freezes the processes, resume thaws them, a paused container deletes",
  ...opts,
  async fn() {
    if (!V1) {
      console.log("skipped: this test reads cgroup v1 files; the host has cgroup v2 only");
      return;
    }
    const b = await makeBundle({
      args: ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /dev/shm/count; sleep 0.05; done"],
    });
    const id = `cg-pause-${rand()}`;
    try {
      assertEquals((await runts(["run", "-d", "-b", b.dir, id], { root })).code, 0);
      const pid = pidOf((await runts(["state", id], { root })).stdout);
      await waitFor("the counter", () => exists(`/proc/${pid}/root/dev/shm/count`));
      assertEquals((await runts(["pause", id], { root })).code, 0);
      assertEquals(JSON.parse((await runts(["state", id], { root })).stdout).status, "paused");
      assertEquals(read(`${cgDir(pid, "freezer")}/freezer.state`), "FROZEN");
      const count = () => read(`/proc/${pid}/root/dev/shm/count`);
      const c1 = count();
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(count(), c1, "nothing runs while paused");
      const ps = await runts(["ps", "--format", "json", id], { root });
      assert(JSON.parse(ps.stdout).includes(pid), "ps works on a paused container");
      const p2 = await runts(["pause", id], { root });
      assertEquals(p2.code, 1);
      assertEquals((await runts(["resume", id], { root })).code, 0);
      await waitFor("the counter to advance after resume", () => count() !== c1);
      assertEquals((await runts(["pause", id], { root })).code, 0);
      // a hang is a failure: the command is killed after 20 s
      const d = await runts(["delete", "--force", id], { root, timeoutMs: 20_000 });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});
