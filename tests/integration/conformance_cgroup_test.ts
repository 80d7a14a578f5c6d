/**
 * cgroup behaviours runc users rely on, compared with runc 1.1.5 on the same bundle:
 * the device cgroup denying what `linux.resources.devices` denies to the init and to every
 * exec'd process (v1/hybrid, and v2 in a mount namespace where cgroup2 is /sys/fs/cgroup),
 * also through `update`; access letters runc ignores; a pre-existing frozen or non-empty
 * cgroup; v1 resources with `unified` keys; blkio weight on a kernel without a weight file.
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import {
  type BundleSpec,
  exists,
  leftovers,
  makeBundle,
  newRoot,
  REPO,
  runts,
  RUNTS_BIN,
  waitFor,
} from "./_helpers.ts";
import { blkioWeightFile } from "./cgroup_host.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };
const rand = () => crypto.randomUUID().slice(0, 8);
const readOr = (p: string, d = "") => {
  try {
    return Deno.readTextFileSync(p);
  } catch {
    return d;
  }
};

/**
 * /dev/kmsg (1:11) as a node of the container, and every device denied. CAP_SYSLOG lets the
 * process read /dev/kmsg (dmesg_restrict), so a refusal can only come from the device cgroup.
 */
function denyAllWithKmsg(s: BundleSpec): void {
  for (const set of ["bounding", "effective", "permitted"] as const) {
    s.process.capabilities![set]!.push("CAP_SYSLOG");
  }
  s.linux.devices = [{ path: "/dev/kmsg", type: "c", major: 1, minor: 11, fileMode: 0o644 }];
  s.linux.resources = { devices: [{ allow: false, access: "rwm" }] };
}

/**
 * The init of the device tests: opens /dev/kmsg for reading and for writing again and again,
 * appending to /dev/shm/opened each time an open succeeds and counting rounds in /dev/shm/n.
 */
const PROBE = "i=0; while :; do i=$((i+1)); " +
  "{ true </dev/kmsg; } 2>/dev/null && echo read >> /dev/shm/opened; " +
  "{ true >/dev/kmsg; } 2>/dev/null && echo write >> /dev/shm/opened; " +
  // (written aside and renamed: a reader never finds the file truncated and not yet written)
  "echo $i > /dev/shm/n.new; mv -f /dev/shm/n.new /dev/shm/n; usleep 2000; done";

function devicesDir(pid: number): string | undefined {
  const line = Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")
    .find((l) => /^\d+:([^:]*,)?devices(,[^:]*)?:/.test(l));
  return line === undefined ? undefined : `/sys/fs/cgroup/devices${line.split(":")[2]}`;
}

/** The exec checks every device test makes: write, read, a detached exec, and the init's log. */
async function assertKmsgDenied(
  run: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  id: string,
  pid: number,
): Promise<void> {
  const tee = await run(["exec", id, "sh", "-c", "hostname | tee /dev/kmsg"]);
  assertEquals(tee, {
    code: 1,
    stdout: "runts\n",
    stderr: "tee: /dev/kmsg: Operation not permitted\n",
  });
  const head = await run(["exec", id, "head", "-c", "1", "/dev/kmsg"]);
  assertEquals(head, {
    code: 1,
    stdout: "",
    stderr: "head: /dev/kmsg: Operation not permitted\n",
  });
  const d = await run([
    "exec",
    "-d",
    id,
    "sh",
    "-c",
    "{ true </dev/kmsg; } 2>/dev/shm/detached.err; echo $? > /dev/shm/detached",
  ]);
  assertEquals([d.code, d.stderr], [0, ""]);
  const shm = `/proc/${pid}/root/dev/shm`;
  await waitFor("the detached exec", () => readOr(`${shm}/detached`) !== "");
  assertEquals(readOr(`${shm}/detached`), "1\n");
  assertEquals(
    readOr(`${shm}/detached.err`),
    "sh: can't open /dev/kmsg: Operation not permitted\n",
  );
  assert(Number(readOr(`${shm}/n`, "0")) > 0, "the init's probe runs");
  assertEquals(readOr(`${shm}/opened`), "", "the init never opened /dev/kmsg");
}

Deno.test({
  name: "device cgroup deny-all: /dev/kmsg from linux.devices cannot be opened by init or exec",
  ...opts,
  async fn() {
    if (!exists("/sys/fs/cgroup/devices/cgroup.procs")) {
      console.log("skipped: no v1 devices hierarchy on this host (its rules and their updates)");
      return;
    }
    const id = `cgc-dev-${rand()}`;
    const parent = `/runts-test-${rand()}`;
    const b = await makeBundle({
      args: ["sh", "-c", PROBE],
      mutate: (s) => {
        denyAllWithKmsg(s);
        s.linux.cgroupsPath = `${parent}/dev`;
      },
    });
    try {
      const r = await runts(["run", "-d", "-b", b.dir, id], { root });
      assertEquals([r.code, r.stderr], [0, ""]);
      const st = await runts(["state", id], { root });
      const pid = JSON.parse(st.stdout).pid as number;
      const dir = devicesDir(pid);
      assert(dir !== undefined, "this host has a v1 devices hierarchy");
      const list = readOr(`${dir}/devices.list`);
      assert(!list.includes("1:11"), `no rule for 1:11 in ${list}`);
      assert(!list.includes("5:1 "), `no rule for the host console in ${list}`);
      await assertKmsgDenied((a) => runts(a, { root }), id, pid);

      // update re-applies the rules: nothing written when they hold, and never a moment in
      // which the probe could open /dev/kmsg. runc ignores device rules given to update.
      const shm = `/proc/${pid}/root/dev/shm`;
      const before = Number(readOr(`${shm}/n`));
      for (let i = 0; i < 10; i++) {
        const u = await runts(["update", "--pids-limit", String(100 + i), id], { root });
        assertEquals([u.code, u.stderr], [0, ""]);
      }
      const doc = { devices: [{ allow: true, access: "rwm" }], pids: { limit: 200 } };
      const j = await runts(["update", "-r", "-", id], { root, stdin: JSON.stringify(doc) });
      assertEquals([j.code, j.stderr], [0, ""]);
      assertEquals(readOr(`${dir}/devices.list`), list, "the rules are unchanged");
      await waitFor("probe rounds after the updates", () => Number(readOr(`${shm}/n`)) > before);
      await assertKmsgDenied((a) => runts(a, { root }), id, pid);

      const del = await runts(["delete", "--force", id], { root });
      assertEquals([del.code, del.stderr], [0, ""]);
      assertEquals(exists(dir), false);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      removeCgroupDirs([`${parent}/dev`, parent]);
    }
  },
});

Deno.test({
  name:
    'device cgroup: access letters runc ignores ("rwa") are accepted; none of r, w, m is an error',
  ...opts,
  async fn() {
    const id = `cgc-rwa-${rand()}`;
    const b = await makeBundle({
      args: ["sh", "-c", "echo x > /dev/kmsg && echo write-ok; true </dev/kmsg && echo read-ok"],
      mutate: (s) => {
        denyAllWithKmsg(s);
        s.linux.resources!.devices!.push({
          allow: true,
          type: "c",
          major: 1,
          minor: 11,
          access: "rwa",
        });
      },
    });
    try {
      const r = await runts(["run", "-b", b.dir, id], { root });
      assertEquals(r.stdout, "write-ok\nread-ok\n");
      assertEquals(r.stderr, "");
      assertEquals(r.code, 0);
      const cfg = JSON.parse(Deno.readTextFileSync(`${b.dir}/config.json`));
      cfg.linux.resources.devices[1].access = "x";
      Deno.writeTextFileSync(`${b.dir}/config.json`, JSON.stringify(cfg));
      const bad = await runts(["run", "-b", b.dir, `${id}-x`], { root });
      assertEquals([bad.code, bad.stdout], [1, ""]);
      assertEquals(
        bad.stderr,
        `runts: ${b.dir}/config.json: linux.resources.devices[1].access: ` +
          'must name at least one of "r", "w" and "m", not "x"\n',
      );
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

/**
 * A mount namespace in which the cgroup layout is another one, made by `setup` (a shell
 * script): a v2 host (the host's cgroup mounts gone, cgroup2 mounted at /sys/fs/cgroup; the v1
 * controllers stay bound to v1, so only the device filter and the controllers left to cgroup2
 * work) or a v1 host (the cgroup2 mount of a hybrid host gone). `run` runs runts in it; the
 * holder process keeps the namespace.
 */
async function layoutNamespace(
  setup: string,
): Promise<{ run: (a: string[]) => Promise<Result>; close(): Promise<void> }> {
  const holder = new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `${setup} && echo ready && exec sleep 600`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  reader.releaseLock();
  if (first.value?.trim() !== "ready") {
    holder.kill("SIGKILL");
    await holder.status;
    throw new Error(`could not set up a mount namespace with: ${setup}`);
  }
  const tmp = Deno.makeTempDirSync({ prefix: "runts-v2ns-" });
  let n = 0;
  return {
    async run(args: string[]): Promise<Result> {
      // output to files: a detached container keeps what it was given
      const out = `${tmp}/${n}.out`;
      const err = `${tmp}/${n++}.err`;
      const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
      const cmd = [
        "nsenter",
        `--mount=/proc/${holder.pid}/ns/mnt`,
        "--",
        RUNTS_BIN,
        "--root",
        root,
        ...args,
      ].map(q).join(" ");
      const st = await new Deno.Command("sh", {
        args: ["-c", `${cmd} >${q(out)} 2>${q(err)} </dev/null`],
        cwd: REPO,
      }).output();
      return { code: st.code, stdout: readOr(out), stderr: readOr(err) };
    },
    async close() {
      holder.kill("SIGKILL");
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
      Deno.removeSync(tmp, { recursive: true });
    },
  };
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

Deno.test({
  name: "device cgroup deny-all on cgroup v2: the eBPF filter covers init and exec",
  ...opts,
  async fn() {
    const cg2 = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].find((d) =>
      exists(`${d}/cgroup.subtree_control`)
    );
    if (cg2 === undefined) {
      console.log("skipped: this host has no cgroup2 hierarchy");
      return;
    }
    const ns = await layoutNamespace(
      "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup",
    );
    const id = `cgc-v2-${rand()}`;
    const parent = `/runts-test-${rand()}`;
    const b = await makeBundle({
      args: ["sh", "-c", PROBE],
      mutate: (s) => {
        denyAllWithKmsg(s);
        s.linux.cgroupsPath = `${parent}/v2`;
      },
    });
    try {
      const r = await ns.run(["run", "-d", "-b", b.dir, id]);
      assertEquals([r.code, r.stderr], [0, ""]);
      const pid = JSON.parse((await ns.run(["state", id])).stdout).pid as number;
      const cg = readOr(`/proc/${pid}/cgroup`).split("\n").find((l) => l.startsWith("0::"));
      assertEquals(cg, `0::${parent}/v2`);
      await assertKmsgDenied(ns.run, id, pid);
      // the v1 controllers are not in this cgroup2: an update of no limit re-applies the rules
      const u = await ns.run(["update", "--blkio-weight", "0", id]);
      assertEquals([u.code, u.stderr], [0, ""]);
      await assertKmsgDenied(ns.run, id, pid);
      const del = await ns.run(["delete", "--force", id]);
      assertEquals([del.code, del.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await ns.run(["delete", "--force", id]);
      await ns.close();
      await b.cleanup();
      for (const d of [`${parent}/v2`, parent]) {
        try {
          Deno.removeSync(`${cg2}${d}`);
        } catch {
          // not there
        }
      }
    }
  },
});

/** Removes `/runts-test-x` style parents (deepest first) in every hierarchy. */
function removeCgroupDirs(paths: string[]): void {
  for (const h of Deno.readDirSync("/sys/fs/cgroup")) {
    for (const p of paths) {
      try {
        Deno.removeSync(`/sys/fs/cgroup/${h.name}${p}`);
      } catch {
        // not there
      }
    }
  }
}

/** The hierarchies (under /sys/fs/cgroup) in which `path` exists. */
function hierarchiesWith(path: string): string[] {
  return [...Deno.readDirSync("/sys/fs/cgroup")].map((h) => h.name)
    .filter((h) => exists(`/sys/fs/cgroup/${h}${path}`)).sort();
}

Deno.test({
  name: "a pre-existing frozen cgroup at cgroupsPath is refused, and left as it was",
  ...opts,
  async fn() {
    const freezer = "/sys/fs/cgroup/freezer";
    if (!exists(`${freezer}/cgroup.procs`)) {
      console.log("skipped: no v1 freezer hierarchy on this host");
      return;
    }
    const parent = `/runts-test-${rand()}`;
    const path = `${parent}/frozen`;
    Deno.mkdirSync(`${freezer}${path}`, { recursive: true });
    Deno.writeTextFileSync(`${freezer}${path}/freezer.state`, "FROZEN");
    const id = `cgc-frozen-${rand()}`;
    const b = await makeBundle({ args: ["true"], mutate: (s) => s.linux.cgroupsPath = path });
    try {
      for (const args of [["run", "-d", "-b", b.dir, id], ["create", "-b", b.dir, id]]) {
        // today's hang is a failure here: the command is killed after 20 s
        const r = await runts(args, { root, timeoutMs: 20_000 });
        assertEquals(r, {
          code: 1,
          stdout: "",
          stderr: `runts: linux.cgroupsPath: the cgroup "${freezer}${path}" exists and is ` +
            "frozen; a container cannot start in it (thaw it, or use another cgroupsPath)\n",
        }, args[0]);
        assertEquals((await runts(["state", id], { root })).code, 1);
        assertEquals(await leftovers(root), NOTHING);
        assertEquals(hierarchiesWith(path), ["freezer"], "no cgroup made, the frozen one kept");
        assertEquals(Deno.readTextFileSync(`${freezer}${path}/freezer.state`).trim(), "FROZEN");
      }
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      Deno.writeTextFileSync(`${freezer}${path}/freezer.state`, "THAWED");
      removeCgroupDirs([path, parent]);
    }
  },
});

Deno.test({
  name: "a pre-existing cgroup with processes in it is a warning, as with runc",
  ...opts,
  async fn() {
    const pidsDir = "/sys/fs/cgroup/pids";
    if (!exists(`${pidsDir}/cgroup.procs`)) {
      console.log("skipped: no v1 pids hierarchy on this host");
      return;
    }
    const parent = `/runts-test-${rand()}`;
    const path = `${parent}/busy`;
    Deno.mkdirSync(`${pidsDir}${path}`, { recursive: true });
    const squatter = new Deno.Command("sleep", { args: ["600"], stdout: "null", stderr: "null" })
      .spawn();
    Deno.writeTextFileSync(`${pidsDir}${path}/cgroup.procs`, String(squatter.pid));
    const id = `cgc-busy-${rand()}`;
    const b = await makeBundle({
      args: ["sleep", "1000"],
      mutate: (s) => s.linux.cgroupsPath = path,
    });
    try {
      const r = await runts(["run", "-d", "-b", b.dir, id], { root });
      const where = exists("/sys/fs/cgroup/freezer/cgroup.procs")
        ? `/sys/fs/cgroup/freezer${path}`
        : `${pidsDir}${path}`;
      assertEquals([r.code, r.stdout, r.stderr], [
        0,
        "",
        `runts: warning: the container's cgroup "${where}" is not empty: 1 process(es) found ` +
        `(${squatter.pid}); they share its limits and are killed when the container is deleted\n`,
      ]);
      const st = JSON.parse((await runts(["state", id], { root })).stdout);
      assertEquals(st.status, "running");
      const procs = Deno.readTextFileSync(`${pidsDir}${path}/cgroup.procs`).trim().split("\n");
      assertEquals(procs.map(Number).sort(), [squatter.pid, st.pid].sort());
      const d = await runts(["delete", "--force", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals((await squatter.status).signal, "SIGKILL", "killed with the container");
      assertEquals(hierarchiesWith(path), []);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      try {
        squatter.kill("SIGKILL");
      } catch {
        // gone
      }
      await squatter.status;
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      removeCgroupDirs([path, parent]);
    }
  },
});

Deno.test({
  name: "v1 resources with unified keys this host cannot apply: one error before anything is made",
  ...opts,
  async fn() {
    const controllers = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
      .map((d) => readOr(`${d}/cgroup.controllers`, "")).find((t) => t !== "");
    if (!exists("/sys/fs/cgroup/memory/cgroup.procs")) {
      console.log("skipped: the memory controller is not a v1 hierarchy on this host");
      return;
    }
    const parent = `/runts-test-${rand()}`;
    const id = `cgc-unified-${rand()}`;
    const b = await makeBundle({
      args: ["true"],
      mutate: (s) => {
        s.linux.cgroupsPath = `${parent}/u`;
        s.linux.resources = {
          memory: { limit: 64 * 1024 * 1024 },
          unified: { "memory.max": "33554432" },
        };
      },
    });
    try {
      const r = await runts(["run", "-b", b.dir, id], { root });
      const hybrid = controllers !== undefined;
      const have = (controllers ?? "").trim().split(/\s+/).filter((c) => c !== "");
      assertEquals([r.code, r.stdout], [1, ""]);
      assertEquals(
        r.stderr,
        hybrid
          ? 'runts: linux.resources.unified: "memory.max" cannot be set: this host is hybrid ' +
            "and its memory controller is bound to cgroup v1 (the cgroup2 hierarchy at " +
            `/sys/fs/cgroup/unified has ${
              have.length === 0 ? "no controller" : `only ${have.join(", ")}`
            }); linux.resources.memory is given too and applied through cgroup v1: set each ` +
            "limit in one place\n"
          : "runts: linux.resources.unified: cgroup v2 files (memory.max) cannot be set: this " +
            "host has only cgroup v1 hierarchies\n",
      );
      assertEquals(hierarchiesWith(parent), [], "no cgroup made");
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      removeCgroupDirs([`${parent}/u`, parent]);
    }
  },
});

Deno.test({
  name: "blkio weight: written where the kernel has a weight file, refused naming what it lacks",
  ...opts,
  async fn() {
    const file = blkioWeightFile();
    if (!exists("/sys/fs/cgroup/blkio/cgroup.procs")) {
      console.log("skipped: no v1 blkio hierarchy on this host");
      return;
    }
    const parent = `/runts-test-${rand()}`;
    const id = `cgc-blkio-${rand()}`;
    const b = await makeBundle({
      args: ["sh", "-c", "cat /proc/self/cgroup | grep blkio | cut -d: -f3"],
      mutate: (s) => {
        s.linux.cgroupsPath = `${parent}/w`;
        s.linux.resources = { blockIO: { weight: 300 } };
      },
    });
    try {
      if (file !== undefined) {
        console.log(`this kernel has ${file}: the weight is written`);
        const r = await runts(["create", "-b", b.dir, id], { root });
        assertEquals([r.code, r.stderr], [0, ""]);
        assertEquals(readOr(`/sys/fs/cgroup/blkio${parent}/w/${file}`).trim(), "300");
      } else {
        console.log("this kernel has no blkio weight file (no BFQ, no CFQ): refused as by runc");
        const r = await runts(["run", "-b", b.dir, id], { root });
        assertEquals([r.code, r.stdout], [1, ""]);
        assertEquals(
          r.stderr,
          "runts: linux.resources.blockIO.weight: this kernel has no I/O weight to set: the BFQ " +
            "I/O scheduler is not available (no blkio.bfq.weight; CONFIG_IOSCHED_BFQ, modprobe " +
            "bfq) and there is no CFQ (no blkio.weight)\n",
        );
        assertEquals(hierarchiesWith(`${parent}/w`), [], "the cgroup is removed");
      }
      await runts(["delete", "--force", id], { root });
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      removeCgroupDirs([`${parent}/w`, parent]);
    }
  },
});

Deno.test({
  name: "device cgroup deny-all on a cgroup v1 host (no cgroup2 mounted): init and exec",
  ...opts,
  async fn() {
    if (!exists("/sys/fs/cgroup/devices/cgroup.procs")) {
      console.log("skipped: no v1 devices hierarchy on this host");
      return;
    }
    const ns = await layoutNamespace(
      "if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi",
    );
    const id = `cgc-v1-${rand()}`;
    const parent = `/runts-test-${rand()}`;
    const b = await makeBundle({
      args: ["sh", "-c", PROBE],
      mutate: (s) => {
        denyAllWithKmsg(s);
        s.linux.cgroupsPath = `${parent}/v1`;
      },
    });
    try {
      const r = await ns.run(["run", "-d", "-b", b.dir, id]);
      assertEquals([r.code, r.stderr], [0, ""]);
      const pid = JSON.parse((await ns.run(["state", id])).stdout).pid as number;
      assertEquals(devicesDir(pid), `/sys/fs/cgroup/devices${parent}/v1`);
      assertEquals(hierarchiesWith(parent).includes("unified"), false, "no cgroup2 directory");
      await assertKmsgDenied(ns.run, id, pid);
      const u = await ns.run(["update", "--pids-limit", "50", id]);
      assertEquals([u.code, u.stderr], [0, ""]);
      await assertKmsgDenied(ns.run, id, pid);
      const del = await ns.run(["delete", "--force", id]);
      assertEquals([del.code, del.stderr], [0, ""]);
      assertEquals(hierarchiesWith(`${parent}/v1`), []);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await ns.run(["delete", "--force", id]);
      await ns.close();
      await b.cleanup();
      removeCgroupDirs([`${parent}/v1`, parent]);
    }
  },
});
