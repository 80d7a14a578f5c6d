/**
 * containerd end to end: Debian's containerd 1.6 and its `ctr`, runts as the binary of the
 * io.containerd.runc.v2 shim (`ctr run --runc-binary <repo>/bin/runts`).
 *
 * A containerd of its own is started with a config, root, state and sockets in a temp dir (the
 * CRI and /opt plugins off); runts's --root (`--runc-root`) is there too. The container's rootfs
 * is a copy of the busybox rootfs (`ctr run --rootfs`: no image, no snapshotter); ctr's default
 * spec gives it an empty network namespace of its own.
 * @module
 */
import { assertEquals, assertStringIncludes } from "../assert.ts";
import {
  alive,
  BugHits,
  cgroupTree,
  containerdRunDirExists,
  entries,
  forceDeleteAll,
  killAllWith,
  KNOWN_BROKEN,
  mountsUnder,
  newCgroups,
  ok,
  prepare,
  processesWith,
  removeCgroups,
  removeContainerdRunDir,
  removeTemp,
  type Result,
  ROOTFS,
  run,
  type RunOptions,
  runtimePath,
  show,
  startDaemon,
  tempDir,
  waitFor,
} from "./_clients.ts";

const CTR = "/usr/bin/ctr";
const NS = "runts-e2e";

const skip = await prepare("containerd", ["containerd"], [
  "/usr/bin/containerd",
  CTR,
  "/usr/bin/containerd-shim-runc-v2",
]);

Deno.test({
  name: "containerd: ctr 1.6 run --runtime io.containerd.runc.v2 --runc-binary bin/runts",
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const tmp = await tempDir("ctrd");
    const sock = `${tmp}/containerd.sock`;
    const runcRoot = `${tmp}/runc`;
    const runtime = await runtimePath(tmp);
    await Deno.writeTextFile(
      `${tmp}/config.toml`,
      `version = 2
root = "${tmp}/root"
state = "${tmp}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt"]

[grpc]
  address = "${sock}"

[ttrpc]
  address = "${sock}.ttrpc"

[debug]
  address = "${tmp}/debug.sock"
`,
    );
    const ctr = (args: string[], opts: RunOptions = {}): Promise<Result> =>
      run(CTR, ["--address", sock, "--namespace", NS, ...args], opts);
    const RUN = [
      "run",
      "--runtime",
      "io.containerd.runc.v2",
      "--runc-binary",
      runtime,
      "--runc-root",
      runcRoot,
      "--fifo-dir",
      `${tmp}/fifo`,
      "--env",
      `RUNTS_E2E=${tmp}`,
    ];
    const bugs = new BugHits();
    const cgroupsBefore = await cgroupTree(NS);
    const hadContainerdRun = await containerdRunDirExists();
    let daemon: ReturnType<typeof startDaemon> | undefined;
    try {
      ok("cp -a rootfs", await run("/bin/cp", ["-a", ROOTFS, `${tmp}/rootfs`]));
      daemon = startDaemon(
        "/usr/bin/containerd",
        ["--config", `${tmp}/config.toml`],
        `${tmp}/containerd.log`,
      );
      const started = daemon;
      await waitFor("containerd to answer", async () => {
        const r = await ctr(["version"], { timeoutMs: 5000 });
        return r.code === 0 ? true : undefined;
      }, 30_000).catch((e) => {
        throw new Error(`${e.message}\ncontainerd.log:\n${started.tail()}`);
      });
      const ROOT = ["--rootfs", `${tmp}/rootfs`];

      await t.step("run --rm: output", async () => {
        const r = await ctr([...RUN, "--rm", ...ROOT, "e2e-run", "echo", "hello", "world"]);
        assertEquals(r.stdout, "hello world\n", show("ctr run", r));
        // The BUG of the step "delete never failed": `ctr run --rm` exits 1 then.
        if (!bugs.hit("ctr run --rm", r)) assertEquals(r.code, 0, show("ctr run", r));
      });

      await t.step("exit code propagates", async () => {
        const r = await ctr([...RUN, "--rm", ...ROOT, "e2e-exit", "sh", "-c", "exit 42"]);
        if (!bugs.hit("ctr run --rm", r)) assertEquals(r.code, 42, show("ctr run", r));
      });

      await t.step("--env, --cwd, read-only rootfs", async () => {
        const r = await ctr([
          ...RUN,
          "--rm",
          "--read-only",
          "--env",
          "FOO=bar",
          "--cwd",
          "/tmp",
          ...ROOT,
          "e2e-opts",
          "sh",
          "-c",
          'echo "$FOO $(pwd)"; touch /x 2>&1; ls /sys/class/net',
        ]);
        assertEquals(r.stdout.split("\n")[0], "bar /tmp", show("ctr run", r));
        assertStringIncludes(r.stdout, "Read-only file system");
        assertEquals(r.stdout.trim().split("\n").at(-1), "lo", "own network namespace");
      });

      const script = "trap 'echo got-term; exit 3' TERM; echo started; " +
        "while true; do sleep 0.1; done";

      await t.step("run -d, then exec: output and exit code", async () => {
        ok("ctr run -d", await ctr([...RUN, "-d", ...ROOT, "e2e-d", "sh", "-c", script]));
        const ls = ok("ctr task ls", await ctr(["task", "ls"]));
        assertStringIncludes(ls, "RUNNING");
        const r = await ctr([
          "task",
          "exec",
          "--fifo-dir",
          `${tmp}/fifo`,
          "--exec-id",
          "e1",
          "e2e-d",
          "echo",
          "from exec",
        ]);
        assertEquals(r.stdout, "from exec\n", show("ctr task exec", r));
        const r2 = await ctr([
          "task",
          "exec",
          "--fifo-dir",
          `${tmp}/fifo`,
          "--exec-id",
          "e2",
          "e2e-d",
          "sh",
          "-c",
          "exit 7",
        ]);
        assertEquals(r2.code, 7, show("ctr task exec (exit 7)", r2));
        const r3 = await ctr([
          "task",
          "exec",
          "--fifo-dir",
          `${tmp}/fifo`,
          "--exec-id",
          "e3",
          "--cwd",
          "/tmp",
          "--user",
          "1000",
          "e2e-d",
          "sh",
          "-c",
          'echo "$(id -u) $(pwd)"',
        ]);
        assertEquals(r3.stdout, "1000 /tmp\n", show("ctr task exec --user --cwd", r3));
      });

      await t.step("task ps", async () => {
        const r = await ctr(["task", "ps", "e2e-d"]);
        const pids = r.stdout.trim().split("\n").slice(1);
        if (r.code !== 0 || pids.length < 1) throw new Error(show("ctr task ps", r));
      });

      await t.step("kill: SIGTERM handled, then delete", async () => {
        // The init has set its TERM trap (bit 15 of its SigCgt) before it is signalled.
        let n = 0;
        await waitFor("the init's TERM trap", async () => {
          const r = await ctr([
            "task",
            "exec",
            "--fifo-dir",
            `${tmp}/fifo`,
            "--exec-id",
            `trap${n++}`,
            "e2e-d",
            "cat",
            "/proc/1/status",
          ]);
          const cgt = /^SigCgt:\s*([0-9a-f]+)$/m.exec(r.stdout)?.[1];
          return cgt !== undefined && (BigInt(`0x${cgt}`) & (1n << 14n)) !== 0n || undefined;
        });
        ok("ctr task kill", await ctr(["task", "kill", "-s", "SIGTERM", "e2e-d"]));
        await waitFor("the task to stop", async () => {
          const ls = ok("ctr task ls", await ctr(["task", "ls"]));
          return ls.includes("STOPPED") || undefined;
        });
        let del = await ctr(["task", "delete", "e2e-d"]);
        // The BUG of the step "delete never failed": retried, reported there.
        if (bugs.hit("ctr task delete", del)) del = await ctr(["task", "delete", "e2e-d"]);
        assertEquals(del.code, 0, show("ctr task delete", del));
        assertStringIncludes(del.stderr, "exit code 3", show("ctr task delete", del));
        ok("ctr container delete", await ctr(["container", "delete", "e2e-d"]));
      });

      await t.step("kill: SIGKILL", async () => {
        ok("ctr run -d", await ctr([...RUN, "-d", ...ROOT, "e2e-k", "sleep", "1000"]));
        ok("ctr task kill -s SIGKILL", await ctr(["task", "kill", "-s", "SIGKILL", "e2e-k"]));
        await waitFor("the task to stop", async () => {
          const ls = ok("ctr task ls", await ctr(["task", "ls"]));
          return ls.includes("STOPPED") || undefined;
        });
        let del = await ctr(["task", "delete", "e2e-k"]);
        // The BUG of the step "delete never failed": retried, reported there.
        if (bugs.hit("ctr task delete", del)) del = await ctr(["task", "delete", "e2e-k"]);
        assertEquals(del.code, 0, show("ctr task delete", del));
        assertStringIncludes(del.stderr, "exit code 137", show("ctr task delete", del));
        ok("ctr container delete", await ctr(["container", "delete", "e2e-k"]));
      });

      await t.step("no task, runts state, process or mount left", async () => {
        assertEquals(ok("ctr task ls -q", await ctr(["task", "ls", "-q"])), "");
        assertEquals(ok("ctr c ls -q", await ctr(["container", "ls", "-q"])), "");
        const left = async () =>
          (await processesWith(tmp)).filter((p) => !p.startsWith(`${started.pid} `));
        // The shims exit after the tasks are deleted: polled, then shown.
        await waitFor(
          "the shims to exit",
          async () =>
            (await left()).length === 0 && (await entries(`${runcRoot}/${NS}`)).length === 0 ||
            undefined,
          60_000,
        ).catch(() => {});
        assertEquals(await entries(`${runcRoot}/${NS}`), [], "runts state left");
        assertEquals(await left(), [], "processes left");
        assertEquals(await mountsUnder(`${tmp}/rootfs`), [], "mounts left");
        const cgroups = (await newCgroups(NS, cgroupsBefore)).filter((c) => c.includes(`/${NS}/`));
        assertEquals(cgroups, [], "container cgroups left");
      });

      // Fixed, kept as a regression check: `delete <id>`, which the shim runs for `ctr task delete` once the init has exited,
      // fails now and then: `runts: ESRCH: No such process` (log.json {"level":"error","msg":
      // "ESRCH: No such process"}), Deno.kill's message: killSandbox (src/sandbox/sandbox.ts)
      // checks the sandbox process, then Deno.kill(pid, "SIGKILL") throws when that process has
      // exited meanwhile and the shim, a subreaper, has reaped it. `ctr task delete` then exits
      // 1 with runts's message, and so does `ctr run --rm` (its output intact).
      await t.step({
        name: "delete never failed with ESRCH",
        ignore: KNOWN_BROKEN,
        fn() {
          assertEquals(bugs.hits, []);
        },
      });

      await t.step("containerd stops", async () => {
        await started.stop();
        assertEquals(await processesWith(tmp), [], "processes left");
      });
    } finally {
      if (daemon !== undefined && alive(daemon.pid)) {
        for (
          const id of (await ctr(["task", "ls", "-q"], { timeoutMs: 10_000 })).stdout.split(/\s+/)
        ) {
          if (id) await ctr(["task", "delete", "-f", id], { timeoutMs: 20_000 });
        }
        await daemon.stop();
      }
      await forceDeleteAll(`${runcRoot}/${NS}`);
      const killed = await killAllWith(tmp);
      if (killed.length > 0) {
        console.error(`e2e containerd: killed leftovers:\n${killed.join("\n")}`);
      }
      await removeCgroups(await newCgroups(NS, cgroupsBefore));
      await removeContainerdRunDir(hadContainerdRun);
      await removeTemp(tmp);
    }
  },
});
