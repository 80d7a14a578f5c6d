/**
 * process.scheduler, process.ioPriority, process.execCPUAffinity and linux.memoryPolicy, seen
 * from inside the container: /proc/self/stat (nice, policy), `ionice -p`, Cpus_allowed_list,
 * /proc/self/numa_maps. The scheduler and the I/O priority are the init's and, through the
 * container's process, every exec's; the exec CPU affinity is an exec's only (the runtime-spec
 * leaves the init out).
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { type BundleSpec, leftovers, makeBundle, newRoot, runSh, runts } from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };

/** Fields 19 (nice) and 41 (policy) of the reading process's /proc/self/stat, then ionice. */
const PROBE = "cut -d' ' -f19,41 /proc/self/stat; ionice -p $$";

/** The CPUs this process may run on (from /proc/self/status). */
function allowedCpus(): number[] {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n")
    .find((l) => l.startsWith("Cpus_allowed_list:"))!;
  return line.split(/\s+/)[1]!.split(",").flatMap((r) => {
    const [a, b] = r.split("-").map(Number);
    return Array.from({ length: (b ?? a!) - a! + 1 }, (_, i) => a! + i);
  });
}

Deno.test({
  name: "process.scheduler and process.ioPriority: set on the init, inherited by an exec",
  ...opts,
  async fn() {
    const sched = (s: BundleSpec) => {
      s.process.scheduler = { policy: "SCHED_BATCH", nice: 7 };
      s.process.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 6 };
    };
    const r = await runSh(root, "sched-init", PROBE, { mutate: sched });
    assertEquals([r.stdout, r.stderr, r.code], ["7 3\nbest-effort: prio 6\n", "", 0]);

    const idle = await runSh(root, "sched-idle", PROBE, {
      mutate: (s) => {
        s.process.scheduler = { policy: "SCHED_IDLE" };
        s.process.ioPriority = { class: "IOPRIO_CLASS_IDLE", priority: 0 };
      },
    });
    assertEquals([idle.stdout, idle.stderr, idle.code], ["0 5\nidle\n", "", 0]);

    const b = await makeBundle({ args: ["sleep", "300"], mutate: sched });
    try {
      const c = await runts(["run", "-d", "--bundle", b.dir, "sched-exec"], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const e = await runts(["exec", "sched-exec", "sh", "-c", PROBE], { root });
      assertEquals([e.stdout, e.stderr, e.code], ["7 3\nbest-effort: prio 6\n", "", 0]);
    } finally {
      await runts(["delete", "--force", "sched-exec"], { root });
      await b.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "process.scheduler: a priority outside SCHED_FIFO/SCHED_RR is refused, naming it",
  ...opts,
  async fn() {
    const r = await runSh(root, "sched-bad", "true", {
      mutate: (s) => {
        s.process.scheduler = { policy: "SCHED_OTHER", priority: 5 };
      },
    });
    assertEquals(r.code, 1);
    assertEquals(r.stdout, "");
    assertStringIncludes(
      r.stderr,
      "process.scheduler.priority: only SCHED_FIFO and SCHED_RR have one, not SCHED_OTHER",
    );
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "process.execCPUAffinity: an exec runs on its final CPUs; a bad list is refused",
  ...opts,
  async fn(t) {
    const cpus = allowedCpus();
    const dir = await Deno.makeTempDir({ prefix: "runts-affinity-" });
    const b = await makeBundle({ args: ["sleep", "300"] });
    try {
      const c = await runts(["run", "-d", "--bundle", b.dir, "affinity"], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const exec = async (affinity: { initial?: string; final?: string }) => {
        const file = `${dir}/process.json`;
        await Deno.writeTextFile(
          file,
          JSON.stringify({
            args: ["grep", "Cpus_allowed_list", "/proc/self/status"],
            env: ["PATH=/bin"],
            cwd: "/",
            user: { uid: 0, gid: 0 },
            execCPUAffinity: affinity,
          }),
        );
        return await runts(["exec", "--process", file, "affinity"], { root });
      };
      await t.step({
        name: "final",
        ignore: cpus.length < 2,
        fn: async () => {
          const last = cpus.at(-1)!;
          const r = await exec({ initial: String(cpus[0]), final: String(last) });
          assertEquals([r.stdout, r.stderr, r.code], [`Cpus_allowed_list:\t${last}\n`, "", 0]);
        },
      });
      await t.step("a bad list", async () => {
        const r = await exec({ final: "3-1" });
        assertEquals([r.code, r.stdout], [255, ""]);
        assertStringIncludes(
          r.stderr,
          'process.execCPUAffinity.final: "3-1" is not a list of CPUs 0 to 1023',
        );
      });
    } finally {
      await runts(["delete", "--force", "affinity"], { root });
      await b.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

/** This host's online NUMA nodes (none without NUMA support). */
function onlineNodes(): string {
  try {
    return Deno.readTextFileSync("/sys/devices/system/node/online").trim();
  } catch {
    return "";
  }
}

Deno.test({
  name: "linux.memoryPolicy: the init's memory is interleaved; a node the host lacks is refused",
  ...opts,
  ignore: opts.ignore || onlineNodes() === "",
  async fn() {
    const node = onlineNodes().split(/[-,]/)[0]!;
    const r = await runSh(root, "mempolicy", "grep -c ' interleave:' /proc/self/numa_maps", {
      mutate: (s) => (s.linux.memoryPolicy = { mode: "MPOL_INTERLEAVE", nodes: node }),
    });
    assertEquals([r.stderr, r.code], ["", 0]);
    assert(Number(r.stdout) > 0, r.stdout);
    const plain = await runSh(
      root,
      "mempolicy-none",
      "grep -c ' interleave:' /proc/self/numa_maps",
    );
    assertEquals(plain.stdout, "0\n", "without a policy nothing is interleaved");

    const bad = await runSh(root, "mempolicy-bad", "true", {
      mutate: (s) => (s.linux.memoryPolicy = { mode: "MPOL_BIND", nodes: "1023" }),
    });
    assertEquals([bad.stdout, bad.code], ["", 1]);
    assertStringIncludes(
      bad.stderr,
      'set_mempolicy linux.memoryPolicy MPOL_BIND "1023": EINVAL',
    );
    assertEquals(await leftovers(root), NOTHING);
  },
});
