/**
 * The command line as runc's callers use it, checked side by side with /usr/sbin/runc on the
 * same bundle: exit statuses and the error texts that shims and scripts parse.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";

const RUNC = "/usr/sbin/runc";
const haveRunc = (() => {
  try {
    return Deno.statSync(RUNC).isFile;
  } catch {
    return false;
  }
})();
if (Deno.uid() === 0 && !haveRunc) console.log(`runc_cli_test: ${RUNC} missing, tests skipped`);
const opts = {
  ignore: Deno.uid() !== 0 || !haveRunc,
  sanitizeResources: false,
  sanitizeOps: false,
};
const root = Deno.uid() === 0 ? await newRoot() : "";
const runcRoot = Deno.uid() === 0 ? await newRoot() : "";
const tag = `${Deno.pid}-${Math.random().toString(36).slice(2, 7)}`;

/** Result of one runtime's command. */
interface Out {
  code: number;
  stdout: string;
  /** The error message without the runtime's prefix (`runts: ` or runc's `level=error msg=`). */
  err: string;
}

/** runts' stderr as a message. */
function runtsErr(stderr: string): string {
  return stderr.trim().replace(/^runts: /, "");
}

/** runc's last logrus error line as a message. */
function runcErr(stderr: string): string {
  const lines = stderr.trim().split("\n").filter((l) => l.includes("level=error"));
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(lines.at(-1) ?? "");
  return m ? JSON.parse(`"${m[1]}"`) : stderr.trim();
}

/** Runs runc with stdout/stderr in files (a detached container keeps what it is given). */
async function runc(args: string[]): Promise<Out> {
  const dir = await Deno.makeTempDir({ prefix: "runc-out-" });
  try {
    const st = await new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `exec "$@" >${dir}/out 2>${dir}/err </dev/null`,
        "sh",
        RUNC,
        "--root",
        runcRoot,
        ...args,
      ],
    }).output();
    return {
      code: st.code,
      stdout: await Deno.readTextFile(`${dir}/out`),
      err: runcErr(await Deno.readTextFile(`${dir}/err`)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rt(args: string[]): Promise<Out> {
  const r = await runts(args, { root });
  return { code: r.code, stdout: r.stdout, err: runtsErr(r.stderr) };
}

type Runtime = "runts" | "runc";
const both: [Runtime, (a: string[]) => Promise<Out>][] = [["runts", rt], ["runc", runc]];

/** Polls `state` until the container is stopped (bounded by the number of tries, not time). */
async function untilStopped(run: (a: string[]) => Promise<Out>, id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const s = await run(["state", id]);
    if (s.code === 0 && JSON.parse(s.stdout).status === "stopped") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${id} did not stop`);
}

/** Polls `ps --format json` until the container has `n` processes (bounded by tries). */
async function untilProcesses(
  run: (a: string[]) => Promise<Out>,
  id: string,
  n: number,
): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const p = await run(["ps", "--format", "json", id]);
    if (p.code === 0 && (JSON.parse(p.stdout) as number[]).length === n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${id} never had ${n} processes`);
}

Deno.test({
  name: "kill: signal 0 checks a running container; a stopped one: plain kill fails with " +
    '"container not running", kill --all succeeds (as runc)',
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "1000"] });
    try {
      for (const [name, run] of both) {
        const id = `w15-kill-${name}-${tag}`;
        assertEquals((await run(["run", "-d", "-b", b.dir, id])).code, 0, name);
        assertEquals(await run(["kill", id, "0"]), { code: 0, stdout: "", err: "" }, name);
        assertEquals(await run(["kill", "--all", id, "0"]), { code: 0, stdout: "", err: "" }, name);
        assertEquals((await run(["kill", id, "KILL"])).code, 0, name);
        await untilStopped(run, id);
        const plain = await run(["kill", id, "9"]);
        assertEquals([plain.code, plain.err], [1, "container not running"], name);
        const zero = await run(["kill", id, "0"]);
        assertEquals([zero.code, zero.err], [1, "container not running"], name);
        assertEquals(await run(["kill", "--all", id, "9"]), { code: 0, stdout: "", err: "" }, name);
        assertEquals((await run(["delete", id])).code, 0, name);
      }
    } finally {
      await b.cleanup();
    }
    assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
  },
});

Deno.test({
  name: 'exec: its own failures exit 255 with runc\'s "exec failed: ..." text; paused and ' +
    "--ignore-paused; a bad --pid-file",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "1000"] });
    try {
      for (const [name, run] of both) {
        const id = `w15-exec-${name}-${tag}`;
        assertEquals((await run(["run", "-d", "-b", b.dir, id])).code, 0, name);
        const missing = await run(["exec", id, "/nonexistent"]);
        assertEquals(missing.code, 255, name);
        assert(missing.err.startsWith("exec failed: "), `${name}: ${missing.err}`);
        assertEquals((await run(["exec", id, "sh", "-c", "exit 7"])).code, 7, name);
        const pf = await run(["exec", "--pid-file", "/nonexistent/dir/pid", id, "true"]);
        assertEquals(
          [pf.code, pf.err],
          [255, "exec failed: open /nonexistent/dir/.pid: no such file or directory"],
          name,
        );
        assertEquals((await run(["pause", id])).code, 0, name);
        const paused = await run(["exec", id, "true"]);
        assertEquals(
          [paused.code, paused.err],
          [255, "exec failed: cannot exec in a paused container (use --ignore-paused to override)"],
          name,
        );
        // The process is frozen with the container until it is resumed: start it, then resume.
        const ignoring = run(["exec", "--ignore-paused", id, "echo", "ran"]);
        // Resumed only once the exec'd process is in the frozen container (or it would not
        // show that --ignore-paused let it in).
        await untilProcesses(run, id, 2);
        assertEquals((await run(["resume", id])).code, 0, name);
        const ig = await ignoring;
        assertEquals([ig.code, ig.stdout], [0, "ran\n"], name);
        assertEquals((await run(["kill", id, "KILL"])).code, 0, name);
        await untilStopped(run, id);
        const stopped = await run(["exec", id, "true"]);
        assertEquals(
          [stopped.code, stopped.err],
          [255, "exec failed: cannot exec in a stopped container"],
          name,
        );
        assertEquals((await run(["delete", id])).code, 0, name);
      }
    } finally {
      await b.cleanup();
    }
    assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
  },
});

Deno.test({
  name: "run and create with a --pid-file in a missing directory: runc's text, nothing left",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["true"] });
    try {
      for (const cmd of ["run", "create"]) {
        for (const [name, run] of both) {
          const id = `w15-pf-${name}-${tag}`;
          const r = await run([cmd, "--pid-file", "/nonexistent/dir/pid", "-b", b.dir, id]);
          const text = "open /nonexistent/dir/.pid: no such file or directory";
          assertEquals(r.code, 1, `${name} ${cmd}`);
          assertStringIncludes(r.err, text, `${name} ${cmd}`);
          assertEquals((await run(["list", "-q"])).stdout, "", `${name} ${cmd}`);
        }
      }
    } finally {
      await b.cleanup();
    }
    assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
  },
});

Deno.test({
  name: "ps ID -e -x passes the options to ps(1) and shows only the container's processes",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "1000"] });
    try {
      for (const [name, run] of both) {
        const id = `w15-ps-${name}-${tag}`;
        assertEquals((await run(["run", "-d", "-b", b.dir, id])).code, 0, name);
        const pid = JSON.parse((await run(["state", id])).stdout).pid as number;
        const r = await run(["ps", id, "-e", "-x"]);
        assertEquals(r.code, 0, name);
        const lines = r.stdout.trim().split("\n");
        assertEquals(lines[0]!.trim().split(/\s+/).slice(0, 5), [
          "PID",
          "TTY",
          "STAT",
          "TIME",
          "COMMAND",
        ], name);
        assertEquals(lines.slice(1).map((l) => Number(l.trim().split(/\s+/)[0])), [pid], name);
        assertStringIncludes(lines[1]!, "sleep 1000", name);
        assertEquals((await run(["delete", "-f", id])).code, 0, name);
      }
    } finally {
      await b.cleanup();
    }
  },
});

/** The directory of a v1 memory hierarchy, or undefined (then the cgroup test is skipped). */
const memoryHierarchy = (() => {
  try {
    return Deno.statSync("/sys/fs/cgroup/memory").isDirectory ? "/sys/fs/cgroup/memory" : undefined;
  } catch {
    return undefined;
  }
})();
if (memoryHierarchy === undefined) {
  console.log("no v1 memory hierarchy: the exec --cgroup and run --keep comparisons are ignored");
}

Deno.test({
  name: "exec --cgroup joins a sub-cgroup and refuses a path outside the container's cgroup",
  ...opts,
  ignore: opts.ignore || memoryHierarchy === undefined,
  async fn() {
    for (const [name, run] of both) {
      const cg = `w15-cg-${name}-${tag}`;
      const b = await makeBundle({
        args: ["sleep", "1000"],
        mutate: (s) => {
          s.linux.cgroupsPath = `/${cg}`;
          s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== "cgroup");
        },
      });
      const id = `w15-cg-${name}-${tag}`;
      try {
        assertEquals((await run(["run", "-d", "-b", b.dir, id])).code, 0, name);
        await Deno.mkdir(`${memoryHierarchy}/${cg}/sub`);
        const r = await run(["exec", "--cgroup", "memory:/sub", id, "cat", "/proc/self/cgroup"]);
        assertEquals(r.code, 0, `${name}: ${r.err}`);
        const mem = r.stdout.split("\n").find((l) => /^\d+:memory:/.test(l));
        assertEquals(mem?.split(":")[2], `/${cg}/sub`, name);
        const out = await run(["exec", "--cgroup", "/../x", id, "true"]);
        assertEquals(out.code, 255, name);
        assertStringIncludes(out.err, "/../x is not a sub cgroup path", name);
        assert(out.err.startsWith("exec failed: "), out.err);
      } finally {
        await run(["delete", "-f", id]);
        await Deno.remove(`${memoryHierarchy}/${cg}/sub`).catch(() => {});
        await Deno.remove(`${memoryHierarchy}/${cg}`).catch(() => {});
        await b.cleanup();
      }
    }
  },
});

Deno.test({
  name: "run --no-subreaper is accepted, as by runc, and the exit status passed on",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sh", "-c", "exit 3"] });
    try {
      for (const [name, run] of both) {
        const r = await run(["run", "--no-subreaper", "-b", b.dir, `nosub-${name}-${tag}`]);
        assertEquals([r.code, r.err], [3, ""], name);
      }
    } finally {
      await b.cleanup();
    }
    assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
  },
});

Deno.test({
  name: "run --keep keeps the stopped container's state and cgroup until delete",
  ...opts,
  ignore: opts.ignore || memoryHierarchy === undefined,
  async fn() {
    for (const [name, run] of both) {
      const cg = `w15-keep-${name}-${tag}`;
      const b = await makeBundle({
        args: ["sh", "-c", "exit 3"],
        mutate: (s) => (s.linux.cgroupsPath = `/${cg}`),
      });
      const id = cg;
      try {
        assertEquals((await run(["run", "--keep", "-b", b.dir, id])).code, 3, name);
        assertEquals(JSON.parse((await run(["state", id])).stdout).status, "stopped", name);
        assert(Deno.statSync(`${memoryHierarchy}/${cg}`).isDirectory, `${name}: cgroup kept`);
        assertEquals((await run(["delete", id])).code, 0, name);
        assertEquals((await run(["state", id])).code, 1, name);
        let gone = false;
        try {
          Deno.statSync(`${memoryHierarchy}/${cg}`);
        } catch {
          gone = true;
        }
        assert(gone, `${name}: delete removes the cgroup`);
      } finally {
        await b.cleanup();
      }
    }
    assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
  },
});

Deno.test({
  name: "--debug prints level=debug lines for every command (exec included), JSON to --log",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "1000"] });
    const id = `w15-debug-${tag}`;
    const log = await Deno.makeTempFile({ prefix: "runts-log-" });
    try {
      assertEquals((await runts(["run", "-d", "-b", b.dir, id], { root })).code, 0);
      for (
        const args of [["state", id], ["exec", id, "true"], ["kill", id, "0"], ["ps", id], [
          "list",
        ]]
      ) {
        const r = await runts(["--debug", ...args], { root });
        assertEquals(r.code, 0, args.join(" "));
        const line = r.stderr.split("\n").find((l) => l.includes("level=debug"));
        assert(line !== undefined, `${args[0]}: no debug line in ${JSON.stringify(r.stderr)}`);
        assert(/^time="[^"]+" level=debug msg=".*"$/.test(line), line);
        const j = await runts(["--debug", "--log-format", "json", "--log", log, ...args], { root });
        assertEquals([j.code, j.stderr], [0, ""], args.join(" "));
      }
      const lines = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
      assert(lines.length >= 5);
      for (const l of lines) assertEquals(Object.keys(l).sort(), ["level", "msg", "time"]);
      assert(lines.some((l) => l.level === "debug" && String(l.msg).includes("exec")));
    } finally {
      await runts(["delete", "-f", id], { root });
      await Deno.remove(log);
      await b.cleanup();
    }
  },
});
