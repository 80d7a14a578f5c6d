/**
 * podman rootless end to end: Debian's podman 4.3 + conmon run by a non-root user (made with
 * useradd, see tests/integration/_rootless.ts) with `--runtime <repo>/bin/runts`.
 *
 * Everything podman keeps is in a temp dir owned by the user (--root, --runroot, --tmpdir), with
 * vfs storage (fuse-overlayfs and slirp4netns cannot open /dev/fuse and /dev/net/tun, 0600 on
 * this host) and `netns = "none"`. podman runs conmon and the runtime as uid 0 of its rootless
 * user namespace with the user's XDG_RUNTIME_DIR: runts keeps its state in
 * `$XDG_RUNTIME_DIR/runts` and, with no delegated cgroup2 subtree, runs containers without a
 * cgroup of their own (podman itself uses none for rootless on a cgroup v1 host).
 * @module
 */
import { assertEquals, assertStringIncludes } from "../assert.ts";
import { ok, prepare, type Result, rootfsTarball, RUNTS_BIN, show, waitFor } from "./_clients.ts";
import {
  createTestUser,
  processesOf,
  rootlessUnavailable,
  runAs,
  type TestUser,
} from "../integration/_rootless.ts";

const PODMAN = "/usr/bin/podman";
const IMAGE = "localhost/runts-e2e-busybox:latest";

const skip = (await prepare(
  "podman rootless",
  ["podman", "conmon", "uidmap"],
  [PODMAN, "/usr/bin/conmon", "/usr/bin/newuidmap"],
)) ?? rootlessUnavailable();
// (prepare() prints its own reasons; this one is rootlessUnavailable()'s)
if (skip !== undefined) console.log(`e2e podman rootless: skipped: ${skip}`);

/** podman's "not a shared mount" warning, printed by every rootless podman command here. */
function quiet(r: Result): Result {
  const stderr = r.stderr.split("\n").filter((l) => !l.includes("is not a shared mount")).join(
    "\n",
  );
  return { ...r, stderr };
}

Deno.test({
  name: "podman rootless: podman 4.3 + conmon as a non-root user with --runtime bin/runts",
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const u: TestUser = await createTestUser();
    const tmp = await Deno.makeTempDir({ dir: "/tmp", prefix: "runts-e2e-podman-rl-" });
    await Deno.chmod(tmp, 0o755);
    await Deno.chown(tmp, u.uid, u.gid);
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
    const env = {
      PATH: "/usr/bin:/bin",
      HOME: `/home/${u.name}`,
      XDG_RUNTIME_DIR: u.xdg,
      CONTAINERS_CONF: `${tmp}/containers.conf`,
    };
    const podman = async (
      args: string[],
      opts: { stdin?: string; timeoutMs?: number } = {},
    ): Promise<Result> =>
      quiet(
        await runAs(u, [
          PODMAN,
          "--root",
          `${tmp}/root`,
          "--runroot",
          `${tmp}/runroot`,
          "--tmpdir",
          `${tmp}/tmp`,
          "--storage-driver",
          "vfs",
          "--runtime",
          RUNTS_BIN,
          "--cgroup-manager=cgroupfs",
          "--events-backend=file",
          ...args,
        ], { env, ...opts }),
      );
    const RUN = ["run", "-e", `RUNTS_E2E=${tmp}`];
    try {
      const tar = await rootfsTarball(tmp);
      await Deno.chmod(tar, 0o644);
      ok("podman import", await podman(["import", tar, IMAGE], { timeoutMs: 120_000 }));

      await t.step("run --rm: output, as root of the user namespace", async () => {
        const r = await podman([...RUN, "--rm", IMAGE, "sh", "-c", "echo hello; id -u"]);
        assertEquals(r.stdout, "hello\n0\n", show("podman run", r));
        assertEquals(r.code, 0);
      });

      await t.step("exit code propagates", async () => {
        const r = await podman([...RUN, "--rm", IMAGE, "sh", "-c", "exit 42"]);
        assertEquals(r.code, 42, show("podman run", r));
      });

      await t.step("-i: stdin", async () => {
        const r = await podman([...RUN, "--rm", "-i", IMAGE, "cat"], { stdin: "piped\n" });
        assertEquals(r.stdout, "piped\n", show("podman run -i", r));
      });

      // "started" is printed once the trap is set, so a step that has seen it may signal.
      const script = "trap 'echo got-term; exit 0' TERM; echo started; " +
        "while true; do sleep 0.1; done";

      await t.step("run -d, then exec: output, exit code, pid namespace", async () => {
        ok(
          "podman run -d",
          await podman([...RUN, "-d", "--name", "rl-d", IMAGE, "sh", "-c", script]),
        );
        await waitFor(
          "'started' in the logs",
          async () => (await podman(["logs", "rl-d"])).stdout.includes("started") || undefined,
        );
        const r = await podman(["exec", "rl-d", "sh", "-c", "echo from exec; cat /proc/1/comm"]);
        assertEquals(r.stdout, "from exec\nsh\n", show("podman exec", r));
        const r2 = await podman(["exec", "rl-d", "sh", "-c", "exit 7"]);
        assertEquals(r2.code, 7, show("podman exec (exit 7)", r2));
        const r3 = await podman(["exec", "-u", "1000", "rl-d", "id", "-u"]);
        assertEquals(r3.stdout, "1000\n", show("podman exec -u", r3));
      });

      await t.step("stop: graceful", async () => {
        // Shown by the exit status, not by how long stop took: the TERM trap exits 0, a SIGKILL
        // after the timeout would give 137.
        ok("podman stop", await podman(["stop", "-t", "30", "rl-d"]));
        const state = ok(
          "podman inspect",
          await podman(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "rl-d"]),
        );
        assertEquals(state.trim(), "exited 0");
        assertStringIncludes((await podman(["logs", "rl-d"])).stdout, "got-term");
      });

      await t.step("rm; rm -f of a running container", async () => {
        ok("podman rm", await podman(["rm", "rl-d"]));
        ok(
          "podman run -d",
          await podman([...RUN, "-d", "--name", "rl-rmf", IMAGE, "sleep", "1000"]),
        );
        ok("podman rm -f", await podman(["rm", "-f", "-t", "0", "rl-rmf"]));
        assertEquals(ok("podman ps -a", await podman(["ps", "-aq"])), "");
      });

      await t.step("no runts state and no container process left", async () => {
        let left: string[] = [];
        try {
          left = [...Deno.readDirSync(`${u.xdg}/runts`)].map((e) => e.name);
        } catch {
          // never made
        }
        assertEquals(left, [], `runts state left in ${u.xdg}/runts`);
        // podman's own rootless pause process stays until the user is gone; conmon and
        // container processes must not.
        const procs = (await processesOf(u)).filter((p) => !p.includes("[podman pause "));
        assertEquals(procs, [], "processes left");
      });
    } finally {
      const ids = (await podman(["ps", "-aq"], { timeoutMs: 10_000 })).stdout.split(/\s+/)
        .filter(Boolean);
      if (ids.length > 0) await podman(["rm", "-f", "-t", "0", ...ids], { timeoutMs: 30_000 });
      // The user's processes (podman's pause process, anything left): this test started them.
      for (const p of await processesOf(u)) {
        try {
          Deno.kill(Number(p.split(" ")[0]), "SIGKILL");
        } catch {
          // gone
        }
      }
      await Deno.remove(tmp, { recursive: true }).catch((e) =>
        console.error(`e2e podman rootless: ${tmp}: ${e}`)
      );
      await u.remove();
    }
  },
});
