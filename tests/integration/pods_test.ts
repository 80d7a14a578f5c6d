/**
 * Pods: a root (pause-like) container whose sandbox process also creates the app containers
 * whose annotations name it (containerd's CRI, CRI-O). The apps share the root's network, IPC
 * and UTS namespaces, keep their own rootfs and pid namespace, and live and die with the
 * sandbox process.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { type Bundle, type BundleSpec, leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

const NOTHING = { dirs: [], mounts: [], processes: [] };

/** Annotations of a pod's root container and of the containers in it. */
const CRI = {
  sandbox: (id: string) => ({
    "io.kubernetes.cri.container-type": "sandbox",
    "io.kubernetes.cri.sandbox-id": id,
  }),
  container: (sandbox: string) => ({
    "io.kubernetes.cri.container-type": "container",
    "io.kubernetes.cri.sandbox-id": sandbox,
  }),
};
const CRIO = {
  sandbox: (id: string) => ({
    "io.kubernetes.cri-o.ContainerType": "sandbox",
    "io.kubernetes.cri-o.SandboxID": id,
  }),
  container: (sandbox: string) => ({
    "io.kubernetes.cri-o.ContainerType": "container",
    "io.kubernetes.cri-o.SandboxID": sandbox,
  }),
};

interface State {
  id: string;
  status: string;
  pid: number;
}

/** The record runts keeps for a container (state.json under the root). */
function record(id: string): { sandboxPid?: number; sandboxId: string; pid: number } {
  return JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`));
}

async function state(id: string): Promise<State> {
  const r = await runts(["state", id], { root });
  assertEquals(r.code, 0, `state ${id}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Waits until `state ID` reports the status (polled, at most 600 times). */
async function waitStatus(id: string, status: string): Promise<State> {
  let s = await state(id);
  for (let i = 0; i < 600 && s.status !== status; i++) {
    await new Promise((r) => setTimeout(r, 100));
    s = await state(id);
  }
  assertEquals(s.status, status, `container ${id}`);
  return s;
}

/** Runs a command in a container and returns its result. */
function exec(id: string, ...cmd: string[]) {
  return runts(["exec", id, ...cmd], { root, timeoutMs: 15_000 });
}

/** creates and starts a container (asserting both succeed). */
async function createStart(id: string, b: Bundle): Promise<void> {
  const c = await runts(["create", "-b", b.dir, id], { root });
  assertEquals([c.code, c.stderr], [0, ""], `create ${id}`);
  const s = await runts(["start", id], { root });
  assertEquals([s.code, s.stderr], [0, ""], `start ${id}`);
}

/** A pause-like root container: `sleep 1000` with the sandbox annotations. */
function sandboxBundle(
  annotations: Record<string, string>,
  mutate?: (s: BundleSpec) => void,
): Promise<Bundle> {
  return makeBundle({
    args: ["sleep", "1000"],
    mutate(s) {
      s.hostname = "podhost";
      s.annotations = annotations;
      mutate?.(s);
    },
  });
}

/** An app container of a pod: no hostname of its own (the pod's is shared). */
function appBundle(
  args: string[],
  annotations: Record<string, string>,
  mutate?: (s: BundleSpec) => void,
  copyRootfs = false,
): Promise<Bundle> {
  return makeBundle({
    args,
    copyRootfs,
    mutate(s) {
      delete s.hostname;
      s.annotations = annotations;
      mutate?.(s);
    },
  });
}

/** Host pids of `runts boot ID` processes with our --root. */
function bootProcesses(id: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let argv: string[];
    try {
      argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
    } catch {
      continue;
    }
    const r = argv.indexOf("--root");
    const b = argv.indexOf("boot");
    if (r >= 0 && argv[r + 1] === root && b >= 0 && argv[b + 1] === id) pids.push(Number(e.name));
  }
  return pids;
}

/** The namespace link of a host pid, e.g. "net:[4026531840]". */
function ns(pid: number, type: string): string {
  return Deno.readLinkSync(`/proc/${pid}/ns/${type}`);
}

/** The process exists and is not a zombie (pid 1 here may be slow to reap orphans). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function host(cmd: string, ...args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const dec = new TextDecoder();
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(o.stderr)}`);
  return dec.decode(o.stdout);
}

/** Force-deletes containers (cleanup after a failure; errors ignored). */
async function forceDelete(...ids: string[]): Promise<void> {
  for (const id of ids) await runts(["delete", "--force", id], { root });
}

Deno.test({
  name: "a pod: app containers share the root's network, IPC and UTS, not rootfs or pids",
  ...opts,
  async fn(t) {
    const sb = "pod1";
    const rootB = await sandboxBundle(CRI.sandbox(sb));
    const appA = await appBundle(
      ["sh", "-c", "echo from-a > /only-in-a; exec nc -ll -p 7777 -e echo hi"],
      CRI.container(sb),
      (s) => s.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" }),
      true,
    );
    const appB = await appBundle(
      ["sleep", "1000"],
      CRI.container(sb),
      (s) => s.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" }),
      true,
    );
    try {
      await createStart(sb, rootB);
      await createStart("pod1-a", appA);
      await createStart("pod1-b", appB);
      const [r, a, b] = [await state(sb), await state("pod1-a"), await state("pod1-b")];
      assertEquals([r.status, a.status, b.status], ["running", "running", "running"]);

      await t.step("one sandbox process for the three (state.json, host processes)", () => {
        const sbPid = record(sb).sandboxPid;
        assert(sbPid !== undefined && sbPid > 0, "the root has a sandbox process");
        assertEquals(record("pod1-a").sandboxPid, sbPid);
        assertEquals(record("pod1-b").sandboxPid, sbPid);
        assertEquals(record("pod1-a").sandboxId, sb);
        assertEquals(bootProcesses(sb), [sbPid]);
        assertEquals(bootProcesses("pod1-a"), []);
        assertEquals(bootProcesses("pod1-b"), []);
        // The inits are the sandbox process's children.
        for (const pid of [r.pid, a.pid, b.pid]) {
          const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
          assertEquals(ppid, sbPid, `parent of ${pid}`);
        }
      });

      await t.step("network, IPC and UTS namespaces are the root's; mount and pid are not", () => {
        for (const type of ["net", "ipc", "uts"]) {
          assertEquals(ns(a.pid, type), ns(r.pid, type), `${type} of pod1-a`);
          assertEquals(ns(b.pid, type), ns(r.pid, type), `${type} of pod1-b`);
          assert(ns(r.pid, type) !== Deno.readLinkSync(`/proc/self/ns/${type}`), type);
        }
        for (const type of ["mnt", "pid"]) {
          const all = new Set([ns(r.pid, type), ns(a.pid, type), ns(b.pid, type)]);
          assertEquals(all.size, 3, `${type}: one each`);
        }
      });

      await t.step("they see each other on loopback", async () => {
        let got = { code: -1, stdout: "", stderr: "" };
        for (let i = 0; i < 30; i++) {
          got = await exec("pod1-b", "nc", "-w", "2", "127.0.0.1", "7777");
          if (got.stdout === "hi\n") break;
          await new Promise((res) => setTimeout(res, 100));
        }
        assertEquals(got.stdout, "hi\n", `nc in pod1-b: ${got.stderr}`);
        // The root sees the listener too.
        const viaRoot = await exec(sb, "nc", "-w", "2", "127.0.0.1", "7777");
        assertEquals(viaRoot.stdout, "hi\n", viaRoot.stderr);
        // lo is up in the shared namespace, and it is not the host's.
        const ifs = await exec("pod1-b", "cat", "/proc/net/dev");
        assertStringIncludes(ifs.stdout, "lo:");
      });

      await t.step("they share IPC: a POSIX queue and a SysV queue made in one", async () => {
        // mqueue is per IPC namespace: a queue made in pod1-a's /dev/mqueue is in pod1-b's.
        const mk = await exec("pod1-a", "touch", "/dev/mqueue/podq");
        assertEquals([mk.code, mk.stderr], [0, ""]);
        const ls = await exec("pod1-b", "ls", "/dev/mqueue");
        assertEquals(ls.stdout, "podq\n");
        // busybox has no ipcmk: the host's makes the SysV queue inside pod1-a's IPC namespace.
        const made = await host("nsenter", `--ipc=/proc/${a.pid}/ns/ipc`, "ipcmk", "-Q");
        const msqid = /(\d+)\s*$/.exec(made.trim())?.[1];
        assert(msqid !== undefined, `ipcmk: ${made}`);
        const list = await exec("pod1-b", "cat", "/proc/sysvipc/msg");
        const ids = list.stdout.trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/)[1]);
        assertEquals(ids, [msqid]);
      });

      await t.step("they have the root's hostname", async () => {
        for (const id of [sb, "pod1-a", "pod1-b"]) {
          const h = await exec(id, "hostname");
          assertEquals(h.stdout, "podhost\n", `hostname in ${id}`);
        }
      });

      await t.step("each has its own rootfs and /tmp", async () => {
        assertEquals((await exec("pod1-a", "cat", "/only-in-a")).stdout, "from-a\n");
        const inB = await exec("pod1-b", "ls", "/only-in-a");
        assert(inB.code !== 0, "/only-in-a must not be in pod1-b");
        const w = await exec("pod1-a", "sh", "-c", "echo x > /tmp/a-file && cat /tmp/a-file");
        assertEquals(w.stdout, "x\n");
        const tmpB = await exec("pod1-b", "ls", "-A", "/tmp");
        assertEquals([tmpB.code, tmpB.stdout], [0, ""]);
      });

      await t.step("each has its own pid namespace", async () => {
        const psB = await exec("pod1-b", "ps", "-o", "pid,args");
        assertEquals(psB.code, 0, psB.stderr);
        assert(!psB.stdout.includes("nc -ll"), `pod1-b sees pod1-a's nc:\n${psB.stdout}`);
        assertMatch(psB.stdout, /^\s*1 sleep 1000$/m);
        const psA = await exec("pod1-a", "ps", "-o", "pid,args");
        assert(!psA.stdout.includes("sleep"), `pod1-a sees a sleep:\n${psA.stdout}`);
        assertMatch(psA.stdout, /^\s*1 nc -ll -p 7777 -e echo hi$/m);
      });

      await t.step("every command works on an app container", async () => {
        const s = await state("pod1-b");
        assertEquals([s.id, s.status, s.pid], ["pod1-b", "running", b.pid]);
        const ps = await runts(["ps", "--format", "json", "pod1-a"], { root });
        // The init first, then whatever else runs in its pid namespace (nc forks per connection).
        const pids: number[] = JSON.parse(ps.stdout);
        assertEquals(pids[0], a.pid);
        for (const pid of pids) assertEquals(ns(pid, "pid"), ns(a.pid, "pid"));
        const list = await runts(["list", "-q"], { root });
        assertEquals(list.stdout.trim().split("\n").sort(), [sb, "pod1-a", "pod1-b"]);
        const x = await exec("pod1-b", "sh", "-c", "echo $$; exit 3");
        assertEquals([x.code, x.stdout.trim() !== "1"], [3, true]);
      });

      await t.step("deleting an app container leaves the sandbox and the other", async () => {
        const k = await runts(["kill", "pod1-b", "KILL"], { root });
        assertEquals([k.code, k.stderr], [0, ""]);
        await waitStatus("pod1-b", "stopped");
        const d = await runts(["delete", "pod1-b"], { root });
        assertEquals([d.code, d.stderr], [0, ""]);
        assertEquals((await runts(["state", "pod1-b"], { root })).code, 1);
        assertEquals((await state(sb)).status, "running");
        assertEquals((await state("pod1-a")).status, "running");
        assert(alive(record(sb).sandboxPid!), "the sandbox process runs");
        const again = await exec("pod1-a", "hostname");
        assertEquals(again.stdout, "podhost\n");
        // A container can still be added to the sandbox.
        const c = await appBundle(["sleep", "1000"], CRI.container(sb));
        try {
          await createStart("pod1-c", c);
          assertEquals(ns((await state("pod1-c")).pid, "net"), ns(r.pid, "net"));
          const f = await runts(["delete", "--force", "pod1-c"], { root });
          assertEquals([f.code, f.stderr], [0, ""]);
        } finally {
          await c.cleanup();
        }
        assertEquals((await state("pod1-a")).status, "running");
      });

      await t.step("deleting the root ends the sandbox and every container in it", async () => {
        const sbPid = record(sb).sandboxPid!;
        const k = await runts(["kill", sb, "KILL"], { root });
        assertEquals([k.code, k.stderr], [0, ""]);
        await waitStatus(sb, "stopped");
        // The sandbox outlives its root's init until the root is deleted.
        assertEquals((await state("pod1-a")).status, "running");
        const d = await runts(["delete", sb], { root });
        assertEquals([d.code, d.stderr], [0, ""]);
        assert(!alive(sbPid), "the sandbox process is gone");
        assert(!alive(a.pid), "pod1-a's init is gone");
        assertEquals((await state("pod1-a")).status, "stopped");
        const da = await runts(["delete", "pod1-a"], { root });
        assertEquals([da.code, da.stderr], [0, ""]);
        assertEquals(await leftovers(root), NOTHING);
      });
    } finally {
      await forceDelete("pod1-b", "pod1-a", sb);
      for (const x of [appA, appB, rootB]) await x.cleanup();
    }
  },
});

Deno.test({
  name: "a pod: an app container can share the root's pid namespace by path",
  ...opts,
  async fn(t) {
    const sb = "pod2";
    const rootB = await sandboxBundle(CRI.sandbox(sb));
    let shared: Bundle | undefined;
    try {
      await createStart(sb, rootB);
      const r = await state(sb);
      shared = await appBundle(["sleep", "1000"], CRI.container(sb), (s) => {
        s.linux.namespaces = s.linux.namespaces.map((n) =>
          n.type === "pid" ? { type: "pid", path: `/proc/${r.pid}/ns/pid` } : n
        );
      });
      await createStart("pod2-shared", shared);
      const c = await state("pod2-shared");
      assertEquals(ns(c.pid, "pid"), ns(r.pid, "pid"));
      const ps = await exec("pod2-shared", "ps", "-o", "pid,args");
      assertMatch(ps.stdout, /^\s*1 sleep 1000$/m); // the root's init
      assertEquals(ps.stdout.match(/sleep 1000/g)?.length, 2, ps.stdout);
      const ps1 = await exec(sb, "ps", "-o", "pid,args");
      assertEquals(ps1.stdout.match(/sleep 1000/g)?.length, 2, ps1.stdout);
      await t.step({
        name: "deleting it kills only its own processes, not the root's init",
        async fn() {
          const d = await runts(["delete", "--force", "pod2-shared"], { root });
          assertEquals([d.code, d.stderr], [0, ""]);
          assert(!alive(c.pid), "pod2-shared's init is gone");
          assertEquals((await state(sb)).status, "running");
          assert(alive(r.pid), "the root's init still runs");
        },
      });
      const d = await runts(["delete", "--force", "pod2-shared"], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      const dr = await runts(["delete", "--force", sb], { root });
      assertEquals([dr.code, dr.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await forceDelete("pod2-shared", sb);
      await shared?.cleanup();
      await rootB.cleanup();
    }
  },
});

Deno.test({
  name: "a pod: runts run of an app container joins the sandbox",
  ...opts,
  async fn() {
    const sb = "pod3";
    const rootB = await sandboxBundle(CRI.sandbox(sb));
    const app = await appBundle(["sh", "-c", "hostname; exit 4"], CRI.container(sb));
    try {
      await createStart(sb, rootB);
      const r = await runts(["run", "-b", app.dir, "pod3-run"], { root });
      assertEquals([r.code, r.stdout, r.stderr], [4, "podhost\n", ""]);
      assertEquals((await runts(["state", "pod3-run"], { root })).code, 1);
      assertEquals((await state(sb)).status, "running");
      const d = await runts(["delete", "--force", sb], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await forceDelete("pod3-run", sb);
      await app.cleanup();
      await rootB.cleanup();
    }
  },
});

Deno.test({
  name: "a pod: a container naming a sandbox that does not exist is refused, leaving nothing",
  ...opts,
  async fn() {
    const app = await appBundle(["sleep", "1000"], CRI.container("nope"));
    try {
      const c = await runts(["create", "-b", app.dir, "orphan"], { root });
      assertEquals(c.code, 1);
      assertStringIncludes(c.stderr, `sandbox "nope" does not exist`);
      assertEquals(await leftovers(root), NOTHING);
      const d = await runts(["run", "-d", "-b", app.dir, "orphan"], { root });
      assertEquals(d.code, 1);
      assertStringIncludes(d.stderr, `sandbox "nope" does not exist`);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await forceDelete("orphan");
      await app.cleanup();
    }
  },
});

Deno.test({
  name: "a pod: runts run naming a sandbox that does not exist is refused, leaving nothing",
  ...opts,
  async fn() {
    const app = await appBundle(["true"], CRI.container("nope"));
    try {
      const r = await runts(["run", "-b", app.dir, "orphan-run"], { root });
      assertEquals(r.code, 1);
      assertStringIncludes(r.stderr, `sandbox "nope" does not exist`);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await forceDelete("orphan-run");
      await app.cleanup();
    }
  },
});

Deno.test({
  name: "a pod: container ids are unique per root (an app with the root's id is refused)",
  ...opts,
  async fn() {
    const sb = "pod4";
    const rootB = await sandboxBundle(CRI.sandbox(sb));
    const app = await appBundle(["sleep", "1000"], CRI.container(sb));
    try {
      await createStart(sb, rootB);
      const before = record(sb);
      const c = await runts(["create", "-b", app.dir, sb], { root });
      assertEquals(c.code, 1);
      assertStringIncludes(c.stderr, `container "${sb}" already exists`);
      assertEquals((await state(sb)).status, "running");
      assertEquals(record(sb), before);
      // And a second app with an existing app's id is refused too.
      await createStart("pod4-a", app);
      const c2 = await runts(["create", "-b", app.dir, "pod4-a"], { root });
      assertEquals(c2.code, 1);
      assertStringIncludes(c2.stderr, `container "pod4-a" already exists`);
      assertEquals((await state("pod4-a")).status, "running");
      for (const id of ["pod4-a", sb]) {
        const d = await runts(["delete", "--force", id], { root });
        assertEquals([d.code, d.stderr], [0, ""]);
      }
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await forceDelete("pod4-a", sb);
      await app.cleanup();
      await rootB.cleanup();
    }
  },
});

/** A pod (root, pod5-a started, pod5-b created or started) whose sandbox process is SIGKILLed. */
async function killedPod(sb: string, startB: boolean): Promise<void> {
  const rootB = await sandboxBundle(CRI.sandbox(sb));
  const appA = await appBundle(["sleep", "1000"], CRI.container(sb));
  const appB = await appBundle(["sleep", "1000"], CRI.container(sb));
  const [a, b] = [`${sb}-a`, `${sb}-b`];
  try {
    await createStart(sb, rootB);
    await createStart(a, appA);
    if (startB) await createStart(b, appB);
    else {
      const cb = await runts(["create", "-b", appB.dir, b], { root });
      assertEquals([cb.code, cb.stderr], [0, ""]);
    }
    const sbPid = record(sb).sandboxPid!;
    Deno.kill(sbPid, "SIGKILL");
    for (let i = 0; i < 600 && alive(sbPid); i++) await new Promise((r) => setTimeout(r, 50));
    // An app container first, then the root, then the other.
    for (const id of [a, sb, b]) {
      const d = await runts(["delete", "--force", id], { root, timeoutMs: 15_000 });
      assertEquals([d.code, d.stderr], [0, ""], `delete --force ${id}`);
    }
    assertEquals(await leftovers(root), NOTHING);
  } finally {
    await forceDelete(a, sb, b);
    for (const x of [appA, appB, rootB]) await x.cleanup();
  }
}

Deno.test({
  name: "a pod whose sandbox process was killed is cleaned up by delete --force",
  ...opts,
  fn: () => killedPod("pod5", true),
});

Deno.test({
  name: "a pod with a created container whose sandbox process was killed: delete --force",
  ...opts,
  fn: () => killedPod("pod7", false),
});

Deno.test({
  name: "a pod with CRI-O's annotations",
  ...opts,
  async fn() {
    const sb = "pod6";
    const rootB = await sandboxBundle(CRIO.sandbox(sb));
    const app = await appBundle(["sleep", "1000"], CRIO.container(sb));
    try {
      await createStart(sb, rootB);
      await createStart("pod6-a", app);
      const [r, a] = [await state(sb), await state("pod6-a")];
      assertEquals(record("pod6-a").sandboxPid, record(sb).sandboxPid);
      assertEquals(bootProcesses(sb), [record(sb).sandboxPid!]);
      for (const type of ["net", "ipc", "uts"]) assertEquals(ns(a.pid, type), ns(r.pid, type));
      assert(ns(a.pid, "pid") !== ns(r.pid, "pid"));
      assertEquals((await exec("pod6-a", "hostname")).stdout, "podhost\n");
      const d = await runts(["delete", "--force", sb], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals((await state("pod6-a")).status, "stopped");
      const da = await runts(["delete", "pod6-a"], { root });
      assertEquals([da.code, da.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await forceDelete("pod6-a", sb);
      await app.cleanup();
      await rootB.cleanup();
    }
  },
});
