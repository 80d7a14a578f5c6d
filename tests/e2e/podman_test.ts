/**
 * podman end to end: Debian's podman 4.3 and conmon 2.1 with `--runtime <repo>/bin/runts`.
 *
 * Every root podman uses is in a temp dir (--root, --runroot, --tmpdir, --network-config-dir),
 * its containers.conf (CONTAINERS_CONF) sets the rlimits this machine allows and `netns =
 * "none"` (no netavark/CNI: the host network is not touched), cgroupfs, file events. conmon runs
 * runts with its default --root (/run/runts): what runts keeps there is checked by bundle path.
 * @module
 */
import { assertEquals, assertStringIncludes } from "../assert.ts";
import {
  BugHits,
  cgroupTree,
  killAllWith,
  KNOWN_BROKEN,
  mountsUnder,
  newCgroups,
  ok,
  prepare,
  processesWith,
  removeCgroups,
  removeTemp,
  type Result,
  rootfsTarball,
  run,
  type RunOptions,
  runtimePath,
  RUNTS_BIN,
  show,
  tempDir,
  waitFor,
} from "./_clients.ts";

const PODMAN = "/usr/bin/podman";
const IMAGE = "localhost/runts-e2e-busybox:latest";
/** podman's shared-memory lock file: created on first use, removed at the end if it was. */
const SHM_LOCK = "/dev/shm/libpod_lock";

const skip = await prepare("podman", ["podman", "conmon"], [PODMAN, "/usr/bin/conmon"]);

/**
 * Added to every `podman run` until runts takes podman's default security options (the step
 * "run with podman's default security options" shows them failing); the seccomp profile is still
 * loaded with it.
 */
const WORKAROUND: string[] = [];

/**
 * How podman reports the `delete --force` failure of the BUG in the step "no runts state left"
 * (runts's own stderr, "ESRCH: No such process", is not always passed on).
 */
const PODMAN_DELETE_FAILED = /ESRCH: No such process|delete --force \S+` failed: exit status 1/;

/** runts containers (in its default --root, where conmon puts them) whose bundle is under dir. */
async function runtsStateUnder(dir: string): Promise<string[]> {
  const r = await run(RUNTS_BIN, ["list", "--format", "json"]);
  if (r.code !== 0) throw new Error(show("runts list", r));
  const list = JSON.parse(r.stdout || "[]") as { id: string; bundle: string; status: string }[];
  return (list ?? []).filter((c) => c.bundle.startsWith(dir + "/")).map((c) =>
    `${c.id} ${c.status}`
  );
}

Deno.test({
  name: "podman: podman 4.3 + conmon with --runtime bin/runts",
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const tmp = await tempDir("podman");
    const cgroupsBefore = await cgroupTree("libpod_parent");
    const hadShmLock = await Deno.stat(SHM_LOCK).then(() => true, () => false);
    const runtime = await runtimePath(tmp);
    await Deno.writeTextFile(
      `${tmp}/containers.conf`,
      `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
`,
    );
    const podman = (args: string[], opts: RunOptions = {}): Promise<Result> =>
      run(PODMAN, [
        "--root",
        `${tmp}/root`,
        "--runroot",
        `${tmp}/runroot`,
        "--tmpdir",
        `${tmp}/tmp`,
        "--network-config-dir",
        `${tmp}/net`,
        "--storage-driver",
        "overlay",
        "--runtime",
        runtime,
        "--cgroup-manager=cgroupfs",
        "--events-backend=file",
        ...args,
      ], { ...opts, env: { CONTAINERS_CONF: `${tmp}/containers.conf`, ...opts.env } });
    const RUN = ["run", "-e", `RUNTS_E2E=${tmp}`];
    const W = [...RUN, ...WORKAROUND];
    const bugs = new BugHits();
    try {
      const tar = await rootfsTarball(tmp);
      ok("podman import", await podman(["import", tar, IMAGE], { timeoutMs: 120_000 }));

      // Fixed, kept as a regression check: fails at `start` (seccomp loaded after the capability drop): see WORKAROUND.
      await t.step({
        name: "run with podman's default security options",
        ignore: KNOWN_BROKEN,
        async fn() {
          const r = await podman([...RUN, "--rm", IMAGE, "echo", "hello"]);
          assertEquals(r.stdout, "hello\n", show("podman run", r));
        },
      });

      await t.step("run --rm: output", async () => {
        const r = await podman([...W, "--rm", IMAGE, "echo", "hello", "world"]);
        assertEquals(r.stdout, "hello world\n", show("podman run", r));
        assertEquals(r.code, 0);
      });

      await t.step("exit code propagates", async () => {
        const r = await podman([...W, "--rm", IMAGE, "sh", "-c", "exit 42"]);
        assertEquals(r.code, 42, show("podman run", r));
      });

      await t.step("-i: stdin, -e, -u, -w", async () => {
        const r = await podman([
          ...W,
          "--rm",
          "-i",
          "-e",
          "FOO=bar",
          "-u",
          "1000",
          "-w",
          "/tmp",
          IMAGE,
          "sh",
          "-c",
          'cat; echo "$FOO $(id -u) $(pwd)"',
        ], { stdin: "piped\n" });
        assertEquals(r.stdout, "piped\nbar 1000 /tmp\n", show("podman run -i", r));
      });

      // "started" is printed once the trap is set, so a step that has seen it may signal.
      const script = "trap 'echo got-term; exit 0' TERM; echo started; " +
        "while true; do sleep 0.1; done";

      await t.step("run -d, then exec: output, exit code, -u, -e", async () => {
        ok(
          "podman run -d",
          await podman([...W, "-d", "--name", "e2e-d", IMAGE, "sh", "-c", script]),
        );
        await waitFor(
          "'started' in the logs",
          async () => (await podman(["logs", "e2e-d"])).stdout.includes("started") || undefined,
        );
        const r = await podman(["exec", "e2e-d", "echo", "from exec"]);
        assertEquals(r.stdout, "from exec\n", show("podman exec", r));
        const r2 = await podman(["exec", "e2e-d", "sh", "-c", "exit 7"]);
        assertEquals(r2.code, 7, show("podman exec (exit 7)", r2));
        const r3 = await podman([
          "exec",
          "-u",
          "1000",
          "-e",
          "X=y",
          "e2e-d",
          "sh",
          "-c",
          'echo "$(id -u) $X"',
        ]);
        assertEquals(r3.stdout, "1000 y\n", show("podman exec -u -e", r3));
      });

      await t.step("stop: graceful", async () => {
        // Shown by the exit status, not by how long stop took: the TERM trap exits 0, a SIGKILL
        // after the timeout would give 137.
        let stop = await podman(["stop", "-t", "30", "e2e-d"]);
        // The BUG of the step "no runts state left": retried, reported there.
        if (bugs.hit("podman stop", stop, PODMAN_DELETE_FAILED)) {
          stop = await podman(["stop", "-t", "30", "e2e-d"]);
        }
        ok("podman stop", stop);
        const state = ok(
          "podman inspect",
          await podman(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "e2e-d"]),
        );
        assertEquals(state.trim(), "exited 0");
        assertStringIncludes((await podman(["logs", "e2e-d"])).stdout, "got-term");
      });

      await t.step("rm; rm -f of a running container", async () => {
        let rm0 = await podman(["rm", "e2e-d"]);
        // The BUG of the step "no runts state left": retried, reported there.
        if (bugs.hit("podman rm", rm0, PODMAN_DELETE_FAILED)) rm0 = await podman(["rm", "e2e-d"]);
        ok("podman rm", rm0);
        ok(
          "podman run -d",
          await podman([...W, "-d", "--name", "e2e-rmf", IMAGE, "sleep", "1000"]),
        );
        let rm = await podman(["rm", "-f", "-t", "0", "e2e-rmf"]);
        if (bugs.hit("podman rm -f", rm, PODMAN_DELETE_FAILED)) {
          rm = await podman(["rm", "-f", "-t", "0", "e2e-rmf"]);
        }
        ok("podman rm -f", rm);
        assertEquals(ok("podman ps -a", await podman(["ps", "-aq"])), "");
      });

      await t.step("no container process or mount left", async () => {
        assertEquals(await processesWith(tmp), [], "processes left (conmon, runts, containers)");
        const mounts = (await mountsUnder(tmp)).filter((l) =>
          // podman's storage: its own bind mount of the overlay dir
          !/ \S+\/root\/overlay /.test(l)
        );
        assertEquals(mounts, [], "mounts left");
        const cgroups = (await newCgroups("libpod_parent", cgroupsBefore)).filter((c) =>
          /\/libpod-[0-9a-f]{64}$/.test(c)
        );
        assertEquals(cgroups, [], "container cgroups left");
      });

      // Fixed, kept as a regression check: conmon's `delete --force <id>` after the container's exit fails now and then
      // (1 run in 5 here): `runts: ESRCH: No such process`, Deno.kill's message: killSandbox
      // (src/sandbox/sandbox.ts) checks the sandbox process, then Deno.kill(pid, "SIGKILL")
      // throws when that process has exited meanwhile and conmon, a subreaper, has reaped it.
      // podman does not retry: the container's state stays in /run/runts (status stopped). When
      // the delete is part of `podman stop`, `podman rm` or `podman rm -f`, that fails (exit 125,
      // "removing container ... from runtime: `.../bin/runts delete --force <id>` failed: exit
      // status 1").
      await t.step({
        name: "no runts state left",
        ignore: KNOWN_BROKEN,
        async fn() {
          assertEquals(bugs.hits, [], "commands that failed with ESRCH");
          assertEquals(await runtsStateUnder(tmp), [], "runts state left in /run/runts");
        },
      });
    } finally {
      const ids = (await podman(["ps", "-aq"], { timeoutMs: 10_000 })).stdout.split(/\s+/)
        .filter(Boolean);
      if (ids.length > 0) await podman(["rm", "-f", "-t", "0", ...ids], { timeoutMs: 30_000 });
      const killed = await killAllWith(tmp);
      if (killed.length > 0) console.error(`e2e podman: killed leftovers:\n${killed.join("\n")}`);
      for (const s of await runtsStateUnder(tmp).catch(() => [])) {
        await run(RUNTS_BIN, ["delete", "--force", s.split(" ")[0]!], { timeoutMs: 20_000 });
      }
      if (!hadShmLock) await Deno.remove(SHM_LOCK).catch(() => {});
      await removeCgroups(await newCgroups("libpod_parent", cgroupsBefore));
      await removeTemp(tmp);
    }
  },
});
