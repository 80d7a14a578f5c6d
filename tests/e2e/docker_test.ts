/**
 * Docker end to end: Debian's docker.io (dockerd 20.10, containerd 1.6, containerd-shim-runc-v2)
 * with runts registered as the runtime `runts` in daemon.json and picked with `--runtime=runts`.
 *
 * dockerd is started by hand with everything in a temp dir (data-root, exec-root, pidfile, socket)
 * and leaves the host network alone (no iptables, no bridge, no userland proxy). The image is the
 * busybox rootfs imported with `docker import` (there is no registry). At the end no container,
 * process, mount, cgroup or runts state is left and dockerd (with its containerd) is stopped.
 * @module
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import {
  alive,
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
  rootfsTarball,
  run,
  type RunOptions,
  runtimePath,
  show,
  startDaemon,
  tempDir,
  terminate,
  waitFor,
} from "./_clients.ts";

/** Debian's client: /usr/local/bin/docker (a 28.x client) may shadow it on PATH. */
const DOCKER = "/usr/bin/docker";
const IMAGE = "runts-e2e-busybox:latest";

const skip = await prepare("docker", ["docker.io"], [
  DOCKER,
  "/usr/sbin/dockerd",
  "/usr/bin/containerd",
  "/usr/bin/containerd-shim-runc-v2",
]);

/**
 * Added to every `docker run` until runts takes Docker's default security options; the step
 * "run with Docker's default security options" shows them failing. Docker's seccomp profile is
 * still loaded with it.
 */
const WORKAROUND: string[] = [];

interface DockerEnv {
  tmp: string;
  sock: string;
  execRoot: string;
  /** runts's --root as dockerd passes it. */
  stateRoot: string;
  docker(args: string[], opts?: RunOptions): Promise<Result>;
  stop(): Promise<void>;
  /** dockerd's and its containerd's pids. */
  daemonPids(): number[];
  tail(): string;
}

async function startDocker(tmp: string): Promise<DockerEnv> {
  const runtime = await runtimePath(tmp);
  const sock = `${tmp}/docker.sock`;
  const execRoot = `${tmp}/exec`;
  await Deno.mkdir(`${tmp}/client`);
  await Deno.writeTextFile(
    `${tmp}/daemon.json`,
    JSON.stringify({ runtimes: { runts: { path: runtime } }, "storage-driver": "overlay2" }),
  );
  const daemon = startDaemon("/usr/sbin/dockerd", [
    "--config-file",
    `${tmp}/daemon.json`,
    "--data-root",
    `${tmp}/data`,
    "--exec-root",
    execRoot,
    "--pidfile",
    `${tmp}/docker.pid`,
    "-H",
    `unix://${sock}`,
    "--iptables=false",
    "--ip6tables=false",
    "--ip-forward=false",
    "--ip-masq=false",
    "--bridge=none",
    "--userland-proxy=false",
  ], `${tmp}/dockerd.log`);
  const docker = (args: string[], opts: RunOptions = {}) =>
    run(DOCKER, ["-H", `unix://${sock}`, ...args], {
      ...opts,
      env: { DOCKER_CONFIG: `${tmp}/client`, ...opts.env },
    });
  const containerdPid = () => {
    try {
      return Number(Deno.readTextFileSync(`${execRoot}/containerd/containerd.pid`).trim());
    } catch {
      return 0;
    }
  };
  const env: DockerEnv = {
    tmp,
    sock,
    execRoot,
    stateRoot: `${execRoot}/runtime-runc/moby`,
    docker,
    daemonPids: () => [daemon.pid, containerdPid()].filter((p) => p > 0),
    tail: () => daemon.tail(),
    async stop() {
      const ctd = containerdPid();
      await daemon.stop(30_000);
      // dockerd stops the containerd it started; make sure of it.
      if (ctd > 0) await terminate(ctd, 10_000);
    },
  };
  try {
    await waitFor("dockerd to answer", async () => {
      const r = await docker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 5000 });
      return r.code === 0 ? r.stdout : undefined;
    }, 60_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\ndockerd.log:\n${daemon.tail()}`);
  }
  return env;
}

Deno.test({
  name: "docker: dockerd 20.10 + containerd-shim-runc-v2 with --runtime=runts",
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const tmp = await tempDir("docker");
    const cgroupsBefore = await cgroupTree("docker");
    const hadContainerdRun = await containerdRunDirExists();
    let d: DockerEnv | undefined;
    try {
      d = await startDocker(tmp);
      const env = d;
      const docker = env.docker;
      const RUN = ["run", "--runtime=runts", "-e", `RUNTS_E2E=${tmp}`];
      const W = [...RUN, ...WORKAROUND];
      const inspect = async (name: string, format: string) =>
        ok(`inspect ${name}`, await docker(["inspect", "-f", format, name])).trim();
      const logs = async (name: string) => {
        const r = await docker(["logs", name]);
        return r.stdout + r.stderr;
      };

      const tar = await rootfsTarball(tmp);
      ok("docker import", await docker(["import", tar, IMAGE], { timeoutMs: 120_000 }));

      // Fixed, kept as a regression check: fails at `start` (seccomp loaded after the capability drop): see WORKAROUND.
      await t.step({
        name: "run with Docker's default security options",
        ignore: KNOWN_BROKEN,
        async fn() {
          const r = await docker([...RUN, "--rm", IMAGE, "echo", "hello"]);
          assertEquals(r.stdout, "hello\n", show("docker run", r));
        },
      });

      await t.step("run --rm: output", async () => {
        const r = await docker([...W, "--rm", IMAGE, "echo", "hello", "world"]);
        assertEquals(r.stdout, "hello world\n", show("docker run", r));
        assertEquals(r.code, 0);
      });

      await t.step("exit code propagates", async () => {
        const r = await docker([...W, "--rm", IMAGE, "sh", "-c", "exit 42"]);
        assertEquals(r.code, 42, show("docker run", r));
      });

      await t.step("-i: stdin", async () => {
        const r = await docker([...W, "--rm", "-i", IMAGE, "sh", "-c", "cat; echo eof"], {
          stdin: "line one\nline two\n",
        });
        assertEquals(r.stdout, "line one\nline two\neof\n", show("docker run -i", r));
      });

      await t.step("-e", async () => {
        const r = await docker([
          ...W,
          "--rm",
          "-e",
          "FOO=bar baz",
          IMAGE,
          "sh",
          "-c",
          'echo "$FOO"',
        ]);
        assertEquals(r.stdout, "bar baz\n", show("docker run -e", r));
      });

      await t.step("-u 1000", async () => {
        const r = await docker([
          ...W,
          "--rm",
          "-u",
          "1000:1000",
          IMAGE,
          "sh",
          "-c",
          "id -u; id -g",
        ]);
        assertEquals(r.stdout, "1000\n1000\n", show("docker run -u", r));
      });

      await t.step("-w", async () => {
        const r = await docker([...W, "--rm", "-w", "/tmp", IMAGE, "pwd"]);
        assertEquals(r.stdout, "/tmp\n", show("docker run -w /tmp", r));
        const r2 = await docker([...W, "--rm", "-w", "/var/e2e/new", IMAGE, "pwd"]);
        assertEquals(r2.stdout, "/var/e2e/new\n", show("docker run -w (missing dir)", r2));
      });

      await t.step("--hostname", async () => {
        const r = await docker([...W, "--rm", "--hostname", "e2e-host", IMAGE, "hostname"]);
        assertEquals(r.stdout, "e2e-host\n", show("docker run --hostname", r));
      });

      await t.step("--read-only and --tmpfs", async () => {
        const script = "touch /x 2>&1; echo rc=$?; touch /scratch/y && echo tmpfs-ok; " +
          "grep ' /scratch ' /proc/mounts";
        const r = await docker([
          ...W,
          "--rm",
          "--read-only",
          "--tmpfs",
          "/scratch:size=1m",
          IMAGE,
          "sh",
          "-c",
          script,
        ]);
        assertStringIncludes(r.stdout, "Read-only file system", show("docker run --read-only", r));
        assertStringIncludes(r.stdout, "rc=1");
        assertStringIncludes(r.stdout, "tmpfs-ok");
        assertMatch(r.stdout, /^tmpfs \/scratch tmpfs .*size=1024k/m);
      });

      await t.step("--network none", async () => {
        const r = await docker([...W, "--rm", "--network", "none", IMAGE, "ls", "/sys/class/net"]);
        assertEquals(r.stdout, "lo\n", show("docker run --network none", r));
      });

      // Fixed, kept as a regression check: hangs after `create --console-socket`: the created container's init keeps an fd
      // (fd 66) on the write end of the pipe that containerd-shim gives `create` as its stdout
      // and stderr, until it execs. go-runc reads create's output to EOF before it accepts the
      // pty master on the console socket, so the shim waits forever, `start` is never called,
      // and dockerd hangs on the container (even `docker rm -f` times out). runc's init gets
      // /dev/null there.
      await t.step({
        name: "-t: a tty",
        ignore: KNOWN_BROKEN,
        async fn() {
          const r = await docker([...W, "--rm", "-t", IMAGE, "tty"], { timeoutMs: 30_000 });
          assertMatch(r.stdout, /^\/dev\/pts\/\d+\r?\n$/, show("docker run -t", r));
        },
      });

      // "started" is printed once the traps are set, so a step that has seen it may signal.
      const script = "trap 'echo got-term; exit 0' TERM; trap 'echo got-usr1' USR1; " +
        "echo started; while true; do sleep 0.1; done";
      const count = (s: string, part: string) => s.split(part).length - 1;

      await t.step("-d, then logs", async () => {
        ok(
          "docker run -d",
          await docker([...W, "-d", "--name", "e2e-d", IMAGE, "sh", "-c", script]),
        );
        assertEquals(await inspect("e2e-d", "{{.State.Running}}"), "true");
        await waitFor(
          "'started' in the logs",
          async () => (await logs("e2e-d")).includes("started") || undefined,
        );
      });

      await t.step("exec: output and exit code", async () => {
        const r = await docker(["exec", "e2e-d", "echo", "from exec"]);
        assertEquals(r.stdout, "from exec\n", show("docker exec", r));
        const r2 = await docker(["exec", "e2e-d", "sh", "-c", "exit 7"]);
        assertEquals(r2.code, 7, show("docker exec (exit 7)", r2));
      });

      await t.step("exec -u, -e, -w, -i", async () => {
        const u = await docker(["exec", "-u", "1000", "e2e-d", "id", "-u"]);
        assertEquals(u.stdout, "1000\n", show("docker exec -u", u));
        const e = await docker(["exec", "-e", "X=from-exec", "e2e-d", "sh", "-c", 'echo "$X"']);
        assertEquals(e.stdout, "from-exec\n", show("docker exec -e", e));
        const w = await docker(["exec", "-w", "/tmp", "e2e-d", "pwd"]);
        assertEquals(w.stdout, "/tmp\n", show("docker exec -w", w));
        const i = await docker(["exec", "-i", "e2e-d", "cat"], { stdin: "to exec\n" });
        assertEquals(i.stdout, "to exec\n", show("docker exec -i", i));
      });

      await t.step("top", async () => {
        const r = await docker(["top", "e2e-d"]);
        assertStringIncludes(r.stdout, "echo started", show("docker top", r));
      });

      await t.step("kill -s USR1: delivered, still running", async () => {
        ok("docker kill -s USR1", await docker(["kill", "-s", "USR1", "e2e-d"]));
        await waitFor(
          "'got-usr1' in the logs",
          async () => (await logs("e2e-d")).includes("got-usr1") || undefined,
        );
        assertEquals(await inspect("e2e-d", "{{.State.Running}}"), "true");
      });

      await t.step("stop: graceful (SIGTERM handled)", async () => {
        // Shown by the exit status, not by how long stop took: the TERM trap exits 0, a SIGKILL
        // after the timeout would give 137.
        ok("docker stop", await docker(["stop", "-t", "30", "e2e-d"]));
        assertEquals(await inspect("e2e-d", "{{.State.Running}} {{.State.ExitCode}}"), "false 0");
        assertStringIncludes(await logs("e2e-d"), "got-term");
      });

      await t.step("start a stopped container", async () => {
        ok("docker start", await docker(["start", "e2e-d"]));
        assertEquals(await inspect("e2e-d", "{{.State.Running}}"), "true");
        await waitFor(
          "'started' twice in the logs",
          async () => count(await logs("e2e-d"), "started") >= 2 || undefined,
        );
      });

      await t.step("restart", async () => {
        const before = await inspect("e2e-d", "{{.State.StartedAt}}");
        ok("docker restart", await docker(["restart", "-t", "10", "e2e-d"]));
        assertEquals(await inspect("e2e-d", "{{.State.Running}}"), "true");
        assert(before !== await inspect("e2e-d", "{{.State.StartedAt}}"), "not restarted");
        await waitFor(
          "'started' three times in the logs",
          async () => count(await logs("e2e-d"), "started") >= 3 || undefined,
        );
      });

      await t.step("kill: SIGKILL", async () => {
        ok("docker kill", await docker(["kill", "e2e-d"]));
        await waitFor(
          "the container to stop",
          async () => await inspect("e2e-d", "{{.State.Running}}") === "false" || undefined,
        );
        assertEquals(await inspect("e2e-d", "{{.State.ExitCode}}"), "137");
      });

      await t.step("stop: SIGKILL after the timeout", async () => {
        // SIGTERM is caught and survived, so only the SIGKILL after the timeout ends it.
        const stubborn = "trap 'echo got-term' TERM; echo ready; while true; do sleep 0.1; done";
        ok(
          "docker run -d",
          await docker([...W, "-d", "--name", "e2e-stubborn", IMAGE, "sh", "-c", stubborn]),
        );
        await waitFor(
          "'ready' in the logs",
          async () => (await logs("e2e-stubborn")).includes("ready") || undefined,
        );
        ok("docker stop -t 1", await docker(["stop", "-t", "1", "e2e-stubborn"]));
        // TERM first (the trap ran), then KILL (137, not the 143 of an unhandled TERM).
        assertEquals(
          await inspect("e2e-stubborn", "{{.State.Running}} {{.State.ExitCode}}"),
          "false 137",
        );
        assertStringIncludes(await logs("e2e-stubborn"), "got-term");
      });

      await t.step("rm -f: a running container", async () => {
        ok(
          "docker run -d",
          await docker([...W, "-d", "--name", "e2e-rmf", IMAGE, "sleep", "1000"]),
        );
        ok("docker rm -f", await docker(["rm", "-f", "e2e-rmf", "e2e-d", "e2e-stubborn"]));
        const ps = ok("docker ps -a", await docker(["ps", "-aq"]));
        assertEquals(ps, "");
      });

      // Host side of a container's cgroup in a v1 controller (or the unified hierarchy).
      const cgroupFile = async (name: string, controller: string, file: string) => {
        const pid = await inspect(name, "{{.State.Pid}}");
        const lines = (await Deno.readTextFile(`/proc/${pid}/cgroup`)).split("\n");
        const v1 = lines.find((l) => l.split(":")[1]?.split(",").includes(controller));
        if (v1 !== undefined) {
          return `/sys/fs/cgroup/${controller}${v1.split(":")[2]}/${file}`;
        }
        const v2 = lines.find((l) => l.startsWith("0::"));
        return `/sys/fs/cgroup${v2?.slice(3)}/${file}`;
      };

      // cgroups (written as PENDING while runts's cgroup support was integrated; they pass now).
      await t.step({
        name: "--memory, --pids-limit: the container's cgroup limits",
        async fn() {
          try {
            ok(
              "docker run -d",
              await docker([
                ...W,
                "-d",
                "--name",
                "e2e-limits",
                "--memory",
                "64m",
                "--pids-limit",
                "20",
                IMAGE,
                "sleep",
                "1000",
              ]),
            );
            const mem = await cgroupFile("e2e-limits", "memory", "memory.limit_in_bytes");
            assertEquals((await Deno.readTextFile(mem)).trim(), String(64 * 1024 * 1024));
            const pids = await cgroupFile("e2e-limits", "pids", "pids.max");
            assertEquals((await Deno.readTextFile(pids)).trim(), "20");
            const r = await docker(["exec", "e2e-limits", "sh", "-c", "cat /proc/self/cgroup"]);
            assertStringIncludes(r.stdout, "memory:/docker/", show("cgroup of an exec", r));
          } finally {
            await docker(["rm", "-f", "e2e-limits"]);
          }
        },
      });

      // The shim reads the stats from the init's cgroup itself (no runtime call).
      await t.step({
        name: "stats",
        async fn() {
          try {
            ok(
              "docker run -d",
              await docker([
                ...W,
                "-d",
                "--name",
                "e2e-stats",
                "--memory",
                "64m",
                IMAGE,
                "sleep",
                "1000",
              ]),
            );
            const r = await docker([
              "stats",
              "--no-stream",
              "--format",
              "{{.MemUsage}} {{.PIDs}}",
              "e2e-stats",
            ]);
            assertMatch(r.stdout, /^[1-9][\d.]*\w?i?B \/ 64MiB 1\n$/, show("docker stats", r));
          } finally {
            await docker(["rm", "-f", "e2e-stats"]);
          }
        },
      });

      // `pause` and `resume` freeze and thaw the container's cgroup.
      await t.step({
        name: "pause and unpause",
        async fn() {
          try {
            const ticker = "while true; do date +%s%N >/tmp/tick; sleep 0.05; done";
            ok(
              "docker run -d",
              await docker([...W, "-d", "--name", "e2e-pause", IMAGE, "sh", "-c", ticker]),
            );
            ok("docker pause", await docker(["pause", "e2e-pause"]));
            assertEquals(await inspect("e2e-pause", "{{.State.Status}}"), "paused");
            const freezer = await cgroupFile("e2e-pause", "freezer", "freezer.state");
            assertEquals((await Deno.readTextFile(freezer)).trim(), "FROZEN");
            ok("docker unpause", await docker(["unpause", "e2e-pause"]));
            assertEquals(await inspect("e2e-pause", "{{.State.Status}}"), "running");
            const r = await docker(["exec", "e2e-pause", "cat", "/tmp/tick"]);
            assertEquals(r.code, 0, show("docker exec after unpause", r));
          } finally {
            await docker(["rm", "-f", "e2e-pause"]);
          }
        },
      });

      await t.step("rm -f of everything; no container process, mount or cgroup left", async () => {
        const all = ok("docker ps -aq", await docker(["ps", "-aq"])).split(/\s+/).filter(Boolean);
        if (all.length > 0) ok("docker rm -f", await docker(["rm", "-f", ...all]));
        // The daemons, and the shims the next step is about.
        const daemons = env.daemonPids();
        const left = async () =>
          (await processesWith(tmp)).filter((p) =>
            !daemons.includes(Number(p.split(" ")[0])) && !p.includes(" /usr/bin/containerd-shim")
          );
        // Processes of removed containers may take a moment to be reaped: polled, then shown.
        await waitFor(
          "the containers' processes to go",
          async () => (await left()).length === 0 || undefined,
          60_000,
        ).catch(() => {});
        assertEquals(await left(), [], "processes left (runts, containers)");
        const mounts = (await mountsUnder(tmp)).filter((l) => !l.includes(" - overlay "));
        assertEquals(mounts.filter((l) => !/ (\S+\/exec\/netns\/default|\S+\/data) /.test(l)), []);
        const cgroups = (await newCgroups("docker", cgroupsBefore)).filter((c) =>
          /\/docker\/[0-9a-f]{64}$/.test(c)
        );
        assertEquals(cgroups, [], "container cgroups left");
      });

      // Fixed, kept as a regression check: `delete <id>` (no --force), which containerd-shim calls once the init has exited,
      // fails about 1 time in 5 after a normal exit and nearly always after `kill <id> 9`:
      // `runts: ESRCH: No such process` (log.json: {"level":"error","msg":"ESRCH: No such
      // process"}). The message is Deno.kill's: killSandbox (src/sandbox/sandbox.ts) checks the
      // sandbox process, then Deno.kill(pid, "SIGKILL") throws NotFound when that process has
      // exited meanwhile (it ends with its root container) and the shim, a subreaper, has reaped
      // it. The shim does not retry with --force: the runts state and the containerd-shim stay,
      // one per such container, after `docker rm`.
      await t.step({
        name: "no runts state or containerd-shim left",
        ignore: KNOWN_BROKEN,
        async fn() {
          assertEquals(await entries(env.stateRoot), [], `runts state left in ${env.stateRoot}`);
          const shims = (await processesWith(tmp)).filter((p) => p.includes("containerd-shim"));
          assertEquals(shims, [], "containerd-shim processes left");
        },
      });

      await t.step("dockerd and its containerd stop", async () => {
        const pids = env.daemonPids();
        assertEquals(pids.length, 2, "dockerd and containerd pids");
        await env.stop();
        const left = (await processesWith(tmp)).filter((l) =>
          pids.includes(Number(l.split(" ")[0]))
        );
        assertEquals(left, [], "dockerd or containerd still running");
        // Overlay rootfs mounts stay only with the shims of the BUG above.
        const mounts = (await mountsUnder(tmp)).filter((l) => !l.includes(" - overlay "));
        assertEquals(mounts, [], "mounts left");
      });
    } finally {
      if (d !== undefined) {
        if (d.daemonPids().some(alive)) {
          const all = (await d.docker(["ps", "-aq"], { timeoutMs: 10_000 })).stdout;
          const ids = all.split(/\s+/).filter(Boolean);
          if (ids.length > 0) await d.docker(["rm", "-f", ...ids], { timeoutMs: 30_000 });
        }
        await d.stop();
        await forceDeleteAll(d.stateRoot);
      }
      const killed = await killAllWith(tmp);
      if (killed.length > 0) console.error(`e2e docker: killed leftovers:\n${killed.join("\n")}`);
      await removeCgroups(await newCgroups("docker", cgroupsBefore));
      await removeContainerdRunDir(hadContainerdRun);
      await removeTemp(tmp);
    }
  },
});
