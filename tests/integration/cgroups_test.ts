/**
 * A container's cgroups through the CLI, read back from the cgroup files of its processes
 * (found through /proc/<pid>/cgroup, in every v1 hierarchy and the cgroup2 one):
 * where linux.cgroupsPath puts the container, the resources written, limits acting (a fork
 * bomb stopped by pids, an OOM kill reported by `events`), pause/resume freezing, update,
 * `events --stats`, exec joining the cgroup, and delete removing every cgroup directory.
 * @module
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import {
  type BundleSpec,
  exists,
  leftovers,
  makeBundle,
  newRoot,
  runts,
  RUNTS_BIN,
  waitFor,
} from "./_helpers.ts";
import {
  blkioWeightFile,
  hugetlbController,
  oomLimit,
  smallestHugePage,
  swapAccounting,
} from "./cgroup_host.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const read = (path: string) => Deno.readTextFileSync(path).trim();
const rand = () => crypto.randomUUID().slice(0, 8);

/** A mounted, writable cgroup hierarchy: key is the sorted controllers ("" for cgroup2). */
interface Hierarchy {
  key: string;
  mountPoint: string;
}

/** The cgroup hierarchies mounted on this host (from /proc/self/mountinfo). */
function hierarchies(): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    if (left[5]?.split(",").includes("ro")) continue;
    const key = fstype === "cgroup2"
      ? ""
      : superOpts.split(",").filter((o) =>
        o !== "rw" && o !== "ro" && !o.startsWith("release_agent=") && o !== "clone_children" &&
        o !== "noprefix" && o !== "xattr" && o !== "none" && o !== "cpuset_v2_mode" &&
        o !== "favordynmods"
      ).sort().join(",");
    if (fstype === "cgroup" && key === "") continue;
    if (out.some((h) => h.key === key)) continue;
    out.push({ key, mountPoint: left[4]! });
  }
  return out;
}

const HIER = Deno.uid() === 0 ? hierarchies() : [];
/** Whether the host has v1 hierarchies (v1 or hybrid); most tests here read v1 files. */
const V1 = HIER.some((h) => h.key !== "");

/** `/proc/<pid>/cgroup` as a map: hierarchy key → cgroup path. */
function cgroupsOf(pid: number | "self"): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")) {
    const r = /^\d+:([^:]*):(.*)$/.exec(line);
    if (r) m.set(r[1]!.split(",").filter((c) => c !== "").sort().join(","), r[2]!);
  }
  return m;
}

/** The directory of `pid`'s cgroup in every hierarchy. */
function dirsOf(pid: number): string[] {
  const cg = cgroupsOf(pid);
  return HIER.map((h) => {
    const p = cg.get(h.key);
    assert(p !== undefined, `pid ${pid} has no cgroup in hierarchy "${h.key}"`);
    return `${h.mountPoint}${p === "/" ? "" : p}`;
  });
}

/** The directory of `pid`'s cgroup in the hierarchy with `controller` ("" = cgroup2). */
function cgDir(pid: number, controller: string): string {
  // on a cgroup v2 host every controller is in the one hierarchy
  const h = HIER.find((h) =>
    controller === "" || !V1 ? h.key === "" : h.key !== "" && h.key.split(",").includes(controller)
  );
  assert(h !== undefined, `no ${controller} hierarchy`);
  const p = cgroupsOf(pid).get(h.key)!;
  return `${h.mountPoint}${p === "/" ? "" : p}`;
}

/** Removes test parent cgroups (`/runts-test-x`) in every hierarchy, deepest first. */
function removeCgroups(paths: string[]): void {
  for (const p of paths) {
    for (const h of HIER) {
      try {
        Deno.removeSync(`${h.mountPoint}${p}`);
      } catch {
        // not there, or not empty (reported by the assertions)
      }
    }
  }
}

function pidOf(id: string): Promise<number> {
  return runts(["state", id], { root }).then((r) => {
    assertEquals(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).pid as number;
  });
}

async function statusOf(id: string): Promise<string> {
  const r = await runts(["state", id], { root });
  return r.code === 0 ? JSON.parse(r.stdout).status : `(state failed: ${r.stderr.trim()})`;
}

/** Runs a detached container from a new bundle; returns its init pid and a cleanup. */
async function started(
  id: string,
  args: string[],
  mutate?: (s: BundleSpec) => void,
): Promise<{ pid: number; done: () => Promise<void> }> {
  const b = await makeBundle({ args, ...(mutate ? { mutate } : {}) });
  const done = async () => {
    await runts(["delete", "--force", id], { root });
    await b.cleanup();
  };
  const r = await runts(["run", "-d", "-b", b.dir, id], { root });
  if (r.code !== 0) {
    await done();
    throw new Error(`run -d ${id}: ${r.code} ${r.stderr}`);
  }
  return { pid: await pidOf(id), done };
}

/** Deletes (forced) and asserts nothing is left: state, mounts, processes, cgroup dirs. */
async function deleteAndCheck(id: string, dirs: string[]): Promise<void> {
  const d = await runts(["delete", "--force", id], { root });
  assertEquals([d.code, d.stderr], [0, ""]);
  assertEquals(dirs.filter(exists), [], "no cgroup directory of the container is left");
  assertEquals(await leftovers(root), NOTHING);
}

Deno.test({
  name: "cgroupsPath absolute, relative and empty: the init is in that cgroup everywhere",
  ...opts,
  async fn() {
    const sfx = rand();
    const parent = `runts-test-${rand()}`;
    const own = cgroupsOf("self");
    const cases: [string, string, (h: Hierarchy) => string][] = [
      [`cg-abs-${sfx}`, `/${parent}/c1`, () => `/${parent}/c1`],
      [
        `cg-rel-${sfx}`,
        `${parent}/rel`,
        (h) => `${own.get(h.key)!.replace(/\/$/, "")}/${parent}/rel`,
      ],
      [`cg-empty-${sfx}`, "", () => `/runts/cg-empty-${sfx}`],
    ];
    const cleanups: (() => Promise<void>)[] = [];
    try {
      for (const [id, cgroupsPath, want] of cases) {
        const c = await started(id, ["sleep", "1000"], (s) => s.linux.cgroupsPath = cgroupsPath);
        cleanups.push(c.done);
        const cg = cgroupsOf(c.pid);
        for (const h of HIER) {
          assertEquals(cg.get(h.key), want(h), `${id}: hierarchy "${h.key}"`);
          const procs = read(`${h.mountPoint}${want(h)}/cgroup.procs`).split("\n");
          assert(procs.includes(String(c.pid)), `${id}: init in ${h.key}'s cgroup.procs`);
        }
        await deleteAndCheck(id, HIER.map((h) => `${h.mountPoint}${want(h)}`));
      }
    } finally {
      for (const done of cleanups) await done();
      removeCgroups([`/${parent}`]);
      for (const h of HIER) {
        const rel = `${own.get(h.key)!.replace(/\/$/, "")}/${parent}`;
        if (rel !== `/${parent}`) removeCgroups([rel]);
      }
    }
  },
});

Deno.test({
  name: "resources are written: memory, cpu, cpuset, pids, blkio, hugetlb, devices",
  ...opts,
  async fn() {
    const parent = `runts-test-${rand()}`;
    if (!V1) {
      console.log("skipped: this test reads cgroup v1 files; the host has cgroup v2 only");
      return;
    }
    const page = hugetlbController() ? smallestHugePage() : undefined;
    const hugeName = page?.name;
    const hugeLimit = page === undefined ? 0 : page.bytes * 2;
    if (page === undefined) console.log("hugetlb not tested: no hugetlb controller or huge pages");
    const weightFile = blkioWeightFile();
    if (weightFile === undefined) {
      console.log(
        "blkio weight not tested here: this kernel has no blkio.weight or blkio.bfq.weight " +
          "(conformance_cgroup_test checks the refusal)",
      );
    }
    const swap = swapAccounting();
    if (!swap) console.log("memory swap limit not tested: no swap accounting");
    const id = `cg-res-${rand()}`;
    const c = await started(id, ["sleep", "1000"], (s) => {
      s.linux.cgroupsPath = `/${parent}/c1`;
      for (const set of ["bounding", "effective", "permitted"] as const) {
        s.process.capabilities![set]!.push("CAP_MKNOD");
      }
      s.linux.resources = {
        memory: {
          limit: 48 * MiB,
          reservation: 24 * MiB,
          swappiness: 10,
          ...(swap ? { swap: 96 * MiB } : {}),
        },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0" },
        pids: { limit: 42 },
        ...(weightFile === undefined ? {} : { blockIO: { weight: 300 } }),
        devices: [{ allow: false, access: "rwm" }],
        ...(hugeName === undefined
          ? {}
          : { hugepageLimits: [{ pageSize: hugeName, limit: hugeLimit }] }),
      };
    });
    try {
      const mem = cgDir(c.pid, "memory");
      assertEquals(read(`${mem}/memory.limit_in_bytes`), String(48 * MiB));
      assertEquals(read(`${mem}/memory.soft_limit_in_bytes`), String(24 * MiB));
      if (swap) assertEquals(read(`${mem}/memory.memsw.limit_in_bytes`), String(96 * MiB));
      assertEquals(read(`${mem}/memory.swappiness`), "10");
      const cpu = cgDir(c.pid, "cpu");
      assertEquals(read(`${cpu}/cpu.shares`), "512");
      assertEquals(read(`${cpu}/cpu.cfs_quota_us`), "50000");
      assertEquals(read(`${cpu}/cpu.cfs_period_us`), "100000");
      const cpuset = cgDir(c.pid, "cpuset");
      assertEquals(read(`${cpuset}/cpuset.cpus`), "0");
      assertEquals(read(`${cpuset}/cpuset.mems`), "0");
      assertEquals(read(`${cgDir(c.pid, "pids")}/pids.max`), "42");
      // runc writes blkio.weight, or blkio.bfq.weight where only BFQ's file exists.
      if (weightFile !== undefined) {
        assertEquals(read(`${cgDir(c.pid, "blkio")}/${weightFile}`), "300");
      }
      if (hugeName !== undefined) {
        // v1 hugetlb hierarchy if mounted, else the cgroup2 side of a hybrid host.
        const v1 = HIER.some((h) => h.key.split(",").includes("hugetlb"));
        const file = v1
          ? `${cgDir(c.pid, "hugetlb")}/hugetlb.${hugeName}.limit_in_bytes`
          : `${cgDir(c.pid, "")}/hugetlb.${hugeName}.max`;
        assertEquals(read(file), String(hugeLimit), file);
      }
      // deny-all, then runc's default allow list (mknod of any device, and the usual nodes).
      assertEquals(read(`${cgDir(c.pid, "devices")}/devices.list`).split("\n").sort(), [
        "b *:* m",
        "c *:* m",
        "c 10:200 rwm",
        "c 136:* rwm",
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 1:7 rwm",
        "c 1:8 rwm",
        "c 1:9 rwm",
        "c 5:0 rwm",
        "c 5:2 rwm",
      ]);
      const e = await runts([
        "exec",
        id,
        "sh",
        "-c",
        "echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c; " +
        "mknod /dev/xmem c 1 1 && echo mknod-ok; head -c 1 /dev/xmem; echo open=$?; " +
        "mknod /dev/xsda b 8 0 && echo mknod-ok; head -c 1 /dev/xsda; echo open=$?",
      ], { root });
      // As with runc: "c *:* m" lets mknod through, reading a denied node fails with EPERM.
      assertEquals(e.stdout.split("\n").map((l) => l.trim()), [
        "null-ok",
        "4",
        "mknod-ok",
        "open=1",
        "mknod-ok",
        "open=1",
        "",
      ]);
      assertEquals(
        e.stderr,
        [
          "head: /dev/xmem: Operation not permitted",
          "head: /dev/xsda: Operation not permitted",
          "",
        ].join("\n"),
      );
      await deleteAndCheck(id, dirsOf(c.pid));
    } finally {
      await c.done();
      removeCgroups([`/${parent}`]);
    }
  },
});

Deno.test({
  name: "a pids limit of 10 stops a fork bomb",
  ...opts,
  async fn() {
    const id = `cg-bomb-${rand()}`;
    const c = await started(
      id,
      ["sleep", "1000"],
      (s) => s.linux.resources = { pids: { limit: 10 } },
    );
    try {
      const dirs = dirsOf(c.pid);
      const pids = cgDir(c.pid, "pids");
      assertEquals(read(`${pids}/pids.max`), "10");
      const bomb = runts([
        "exec",
        id,
        "sh",
        "-c",
        "for i in $(seq 20); do sleep 30 & done; wait",
      ], { root, timeoutMs: 20_000 });
      // v1 pids.events counts the forks refused at the limit.
      await waitFor("refused forks", () => /^max [1-9]/m.test(read(`${pids}/pids.events`)));
      await sleep(300);
      const current = Number(read(`${pids}/pids.current`));
      assert(current <= 10 && current >= 3, `pids.current ${current} within the limit`);
      const procs = read(`${pids}/cgroup.procs`).split("\n").length;
      assert(procs <= 10, `${procs} processes in the cgroup`);
      const k = await runts(["kill", "--all", id, "KILL"], { root });
      assertEquals([k.code, k.stderr], [0, ""]);
      const r = await bomb;
      assertStringIncludes(r.stderr, "can't fork");
      await deleteAndCheck(id, dirs);
    } finally {
      await c.done();
    }
  },
});

Deno.test({
  name: "a 16 MiB memory limit OOM-kills a bigger process; events reports the oom",
  ...opts,
  async fn() {
    const memory = oomLimit(16 * MiB);
    if (memory === undefined || !V1) {
      console.log(
        `skipped: ${!V1 ? "this test reads cgroup v1 files" : "swap is on and not accounted"}`,
      );
      return;
    }
    const id = `cg-oom-${rand()}`;
    const c = await started(id, ["sleep", "1000"], (s) => s.linux.resources = { memory });
    const events = new Deno.Command(RUNTS_BIN, {
      args: ["--root", root, "events", "--interval", "1s", id],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = events.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    /** The next line of `events`, or undefined after `ms`. */
    const nextLine = async (ms: number): Promise<string | undefined> => {
      const end = performance.now() + ms;
      while (!buf.includes("\n")) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const r = await Promise.race([
          reader.read(),
          new Promise<undefined>((res) =>
            timer = setTimeout(() => res(undefined), end - performance.now())
          ),
        ]);
        clearTimeout(timer);
        if (r === undefined || r.done) return undefined;
        buf += r.value;
      }
      const i = buf.indexOf("\n");
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      return line;
    };
    try {
      const dirs = dirsOf(c.pid);
      const mem = cgDir(c.pid, "memory");
      assertEquals(read(`${mem}/memory.limit_in_bytes`), String(16 * MiB));
      if (memory.swap !== undefined) {
        assertEquals(read(`${mem}/memory.memsw.limit_in_bytes`), String(16 * MiB));
      }
      // The bounds below are hang guards: events prints a line a second and the oom when the
      // kernel reports it, however long that takes on this machine.
      const first = await nextLine(60_000);
      assert(first !== undefined, "events prints a first line");
      assertEquals([JSON.parse(first).type, JSON.parse(first).id], ["stats", id]);
      // busybox tail keeps all of a newline-free input: 64 MiB cannot fit in 16.
      const e = await runts(["exec", id, "sh", "-c", "head -c 64m /dev/zero | tail"], { root });
      assertEquals(e.code, 137, `the allocating process is SIGKILLed: ${e.stderr}`);
      const lines: string[] = [];
      for (let i = 0; i < 60; i++) {
        const l = await nextLine(60_000);
        if (l === undefined) break;
        lines.push(l);
        if (l.includes('"oom"')) break;
      }
      assertEquals(
        lines.map((l) => JSON.parse(l)).find((ev) => ev.type === "oom"),
        { type: "oom", id },
        `events output: ${lines.join("\n")}`,
      );
      const oomKill = /^oom_kill (\d+)$/m.exec(read(`${mem}/memory.oom_control`))?.[1];
      assert(Number(oomKill) >= 1, `oom_kill ${oomKill} in memory.oom_control`);
      assertEquals(await statusOf(id), "running", "the init (sleep) survives");
      const d = await runts(["delete", "--force", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      // events ends by itself once the container is gone.
      const st = await Promise.race([events.status, sleep(5000).then(() => undefined)]);
      assert(st !== undefined, "events exits after delete");
      await deleteAndCheck(id, dirs);
    } finally {
      try {
        events.kill("SIGKILL");
      } catch {
        // already exited
      }
      await reader.cancel().catch(() => {});
      await events.status;
      await c.done();
    }
  },
});

Deno.test({
  name: "pause freezes, resume thaws; kill and delete --force of a paused container finish",
  ...opts,
  async fn() {
    if (!V1) {
      console.log("skipped: this test reads cgroup v1 files; the host has cgroup v2 only");
      return;
    }
    const loop = "i=0; while :; do i=$((i+1)); echo $i > /dev/shm/count; sleep 0.05; done";
    const id = `cg-pause-${rand()}`;
    const stoppedId = `cg-pause-stopped-${rand()}`;
    const pause2 = `cg-pause2-${rand()}`;
    const c = await started(id, ["sh", "-c", loop]);
    const stopped = await started(stoppedId, ["true"]);
    try {
      const dirs = dirsOf(c.pid);
      const freezer = cgDir(c.pid, "freezer");
      const count = () => Number(read(`/proc/${c.pid}/root/dev/shm/count`));
      await waitFor("the counter", () => exists(`/proc/${c.pid}/root/dev/shm/count`));
      const p = await runts(["pause", id], { root });
      assertEquals([p.code, p.stderr], [0, ""]);
      assertEquals(await statusOf(id), "paused");
      assertEquals(read(`${freezer}/freezer.state`), "FROZEN");
      assertMatch(read(`/proc/${c.pid}/status`), /^State:\s+D/m);
      const c1 = count();
      await sleep(400);
      assertEquals(count(), c1, "nothing runs while paused");
      const ps = await runts(["ps", "--format", "json", id], { root });
      assertEquals(ps.code, 0, ps.stderr);
      assertEquals(
        (JSON.parse(ps.stdout) as number[]).sort(),
        read(`${freezer}/cgroup.procs`).split("\n").map(Number).sort(),
        "ps lists the paused processes",
      );
      assert((JSON.parse(ps.stdout) as number[]).includes(c.pid));

      await waitFor(
        "the init of the stopped container to exit",
        async () => await statusOf(stoppedId) === "stopped",
      );
      const ps2 = await runts(["pause", stoppedId], { root });
      assertEquals(ps2.code, 1);
      assertStringIncludes(ps2.stderr, `"${stoppedId}"`);
      assertStringIncludes(ps2.stderr, "stopped");

      const r = await runts(["resume", id], { root });
      assertEquals([r.code, r.stderr], [0, ""]);
      assertEquals(await statusOf(id), "running");
      assertEquals(read(`${freezer}/freezer.state`), "THAWED");
      await waitFor("the counter to advance", () => count() > c1);

      // kill KILL of a paused container returns (a hang is killed after 20 s) and the init dies.
      assertEquals((await runts(["pause", id], { root })).code, 0);
      const k = await runts(["kill", id, "KILL"], { root, timeoutMs: 20_000 });
      assertEquals([k.code, k.stderr], [0, ""]);
      await waitFor("the killed init to stop", async () => await statusOf(id) === "stopped");
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals(dirs.filter(exists), []);

      // delete --force of a paused container.
      const c2 = await started(pause2, ["sh", "-c", loop]);
      try {
        const dirs2 = dirsOf(c2.pid);
        assertEquals((await runts(["pause", pause2], { root })).code, 0);
        assertEquals(read(`${cgDir(c2.pid, "freezer")}/freezer.state`), "FROZEN");
        // a hang is a failure: the command is killed after 20 s
        const df = await runts(["delete", "--force", pause2], { root, timeoutMs: 20_000 });
        assertEquals([df.code, df.stderr], [0, ""]);
        assertEquals(dirs2.filter(exists), []);
      } finally {
        await c2.done();
      }
      await deleteAndCheck(stoppedId, []);
    } finally {
      await c.done();
      await stopped.done();
    }
  },
});

Deno.test({
  name: "update changes the limits, from flags and from a JSON on stdin",
  ...opts,
  async fn() {
    if (!V1) {
      console.log("skipped: this test reads cgroup v1 files; the host has cgroup v2 only");
      return;
    }
    const id = `cg-update-${rand()}`;
    const c = await started(id, ["sleep", "1000"], (s) =>
      s.linux.resources = {
        memory: { limit: 32 * MiB },
        pids: { limit: 20 },
        cpu: { shares: 1024 },
      });
    try {
      const mem = cgDir(c.pid, "memory");
      const pids = cgDir(c.pid, "pids");
      const cpu = cgDir(c.pid, "cpu");
      assertEquals(read(`${mem}/memory.limit_in_bytes`), String(32 * MiB));
      assertEquals(read(`${pids}/pids.max`), "20");
      const u = await runts(["update", "--memory", "64m", "--pids-limit", "33", id], { root });
      assertEquals([u.code, u.stderr], [0, ""]);
      assertEquals(read(`${mem}/memory.limit_in_bytes`), String(64 * MiB));
      assertEquals(read(`${pids}/pids.max`), "33");
      assertEquals(read(`${cpu}/cpu.shares`), "1024", "left as it was");

      const doc = {
        memory: { limit: 80 * MiB, reservation: 40 * MiB },
        cpu: { shares: 256, quota: 20000, period: 100000 },
        pids: { limit: 44 },
      };
      const j = await runts(["update", "-r", "-", id], { root, stdin: JSON.stringify(doc) });
      assertEquals([j.code, j.stderr], [0, ""]);
      assertEquals(read(`${mem}/memory.limit_in_bytes`), String(80 * MiB));
      assertEquals(read(`${mem}/memory.soft_limit_in_bytes`), String(40 * MiB));
      assertEquals(read(`${cpu}/cpu.shares`), "256");
      assertEquals(read(`${cpu}/cpu.cfs_quota_us`), "20000");
      assertEquals(read(`${cpu}/cpu.cfs_period_us`), "100000");
      assertEquals(read(`${pids}/pids.max`), "44");

      const bad = await runts(["update", "--memory", "64m", "cg-no-such"], { root });
      assertEquals(bad.code, 1);
      assertStringIncludes(bad.stderr, `"cg-no-such"`);
      await deleteAndCheck(id, dirsOf(c.pid));
    } finally {
      await c.done();
    }
  },
});

Deno.test({
  name: "events --stats prints one stats line: cpu and memory used, pids counted",
  ...opts,
  async fn() {
    if (!V1) {
      console.log("skipped: this test reads cgroup v1 files; the host has cgroup v2 only");
      return;
    }
    const id = `cg-stats-${rand()}`;
    const c = await started(id, [
      "sh",
      "-c",
      "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo > /dev/shm/worked; " +
      "sleep 1000 & sleep 1000 & wait",
    ]);
    try {
      const pids = cgDir(c.pid, "pids");
      await waitFor(
        "the work and both sleeps",
        () => read(`${pids}/cgroup.procs`).split("\n").length === 3,
        20_000,
      );
      const s = await runts(["events", "--stats", id], { root });
      assertEquals([s.code, s.stderr], [0, ""]);
      const lines = s.stdout.split("\n");
      assertEquals(lines.length, 2, "one line");
      assertEquals(lines[1], "");
      const ev = JSON.parse(lines[0]!);
      assertEquals([ev.type, ev.id], ["stats", id]);
      assert(ev.data.cpu.usage.total > 0, `cpu.usage.total ${ev.data.cpu.usage.total}`);
      assert(ev.data.memory.usage.usage > 0, `memory.usage.usage ${ev.data.memory.usage.usage}`);
      assertEquals(ev.data.pids.current, 3, "sh and two sleeps");
      const cpuacct = Number(read(`${cgDir(c.pid, "cpuacct")}/cpuacct.usage`));
      assert(cpuacct >= ev.data.cpu.usage.total, "no more than cpuacct.usage");
      // v1's "no limit" (2^63 - 4096) is written digit for digit, as a uint64 reader needs it
      const limitFile = `${cgDir(c.pid, "memory")}/memory.limit_in_bytes`;
      if (exists(limitFile)) {
        const limit = read(limitFile).trim();
        assert(BigInt(limit) > 2n ** 53n, `memory.limit_in_bytes ${limit}`);
        assertMatch(s.stdout, new RegExp(`"memory":\\{[^{]*"usage":\\{[^}]*"limit":${limit}[,}]`));
      }
      await deleteAndCheck(id, dirsOf(c.pid));
    } finally {
      await c.done();
    }
  },
});

Deno.test({
  name: "exec'd processes join the container's cgroup",
  ...opts,
  async fn() {
    const id = `cg-exec-${rand()}`;
    const c = await started(
      id,
      ["sleep", "1000"],
      (s) => s.linux.cgroupsPath = `/runts-test-${rand()}/exec`,
    );
    const parent = cgroupsOf(c.pid).get("")!.replace(/\/exec$/, "");
    try {
      const initCg = Deno.readTextFileSync(`/proc/${c.pid}/cgroup`);
      const e = await runts(["exec", id, "cat", "/proc/self/cgroup"], { root });
      assertEquals([e.code, e.stderr], [0, ""]);
      assertEquals(e.stdout, initCg);
      const d = await runts(["exec", "-d", id, "sleep", "999"], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      const procs = read(`${cgDir(c.pid, "pids")}/cgroup.procs`).split("\n").map(Number);
      assertEquals(procs.length, 2, "init and the detached exec");
      for (const p of procs) assertEquals(Deno.readTextFileSync(`/proc/${p}/cgroup`), initCg);
      await deleteAndCheck(id, dirsOf(c.pid));
    } finally {
      await c.done();
      removeCgroups([parent]);
    }
  },
});

Deno.test({
  name: "delete removes every cgroup directory, also after the sandbox was SIGKILLed",
  ...opts,
  async fn() {
    const id = `cg-sandbox-killed-${rand()}`;
    const c = await started(
      id,
      ["sleep", "1000"],
      (s) => s.linux.resources = { pids: { limit: 20 } },
    );
    try {
      const dirs = dirsOf(c.pid);
      assertEquals(dirs.length, HIER.length);
      assertEquals(dirs.filter(exists), dirs);
      const state = JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`));
      const sandboxPid = state.sandboxPid as number;
      assert(sandboxPid > 0 && sandboxPid !== c.pid, `sandboxPid ${sandboxPid}`);
      Deno.kill(sandboxPid, "SIGKILL");
      await waitFor("the sandbox to die", () => {
        try {
          return read(`/proc/${sandboxPid}/stat`).split(" ")[2] === "Z";
        } catch {
          return true;
        }
      });
      await deleteAndCheck(id, dirs);
    } finally {
      await c.done();
    }
  },
});
