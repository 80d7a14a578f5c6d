/**
 * `runts debug plan` (the init's syscall program, nothing run), `runts debug --ps` and
 * `--stacks` (the sandbox process's view), and `runts wait` (the init's exit status as JSON).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { type Bundle, leftovers, loggedInitPlan, makeBundle, newRoot, runts } from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

const NOTHING = { dirs: [], mounts: [], processes: [] };

interface State {
  id: string;
  status: string;
  pid: number;
}

async function state(id: string): Promise<State> {
  const r = await runts(["state", id], { root });
  assertEquals(r.code, 0, `state ${id}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The record runts keeps for a container (state.json under the root). */
function record(id: string): { sandboxPid?: number } {
  return JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`));
}

async function createStart(id: string, b: Bundle, ...createFlags: string[]): Promise<void> {
  const c = await runts(["create", ...createFlags, "-b", b.dir, id], { root });
  assertEquals([c.code, c.stderr], [0, ""], `create ${id}`);
  const s = await runts(["start", id], { root });
  assertEquals([s.code, s.stderr], [0, ""], `start ${id}`);
}

/** Waits until the init of `sh -c "sleep 1000; ..."` has its sleep child (bounded by count). */
async function waitForSleep(id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ps = await runts(["ps", "--format", "json", id], { root });
    if (ps.code === 0 && (JSON.parse(ps.stdout) as number[]).length === 2) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`container "${id}": the init never started its sleep`);
}

/**
 * Lets a container whose init is `sh -c "sleep 1000; exit 9"` go on: the sleep (the init's only
 * child) is killed, so the shell exits 9. No timing: the init cannot exit before this.
 */
async function releaseSleep(id: string): Promise<void> {
  const init = (await state(id)).pid;
  const ps = await runts(["ps", "--format", "json", id], { root });
  assertEquals(ps.code, 0, ps.stderr);
  const pids = (JSON.parse(ps.stdout) as number[]).filter((p) => p !== init);
  assertEquals(pids.length, 1, `the init's children: ${ps.stdout}`);
  Deno.kill(pids[0]!, "SIGKILL");
}

async function deleteForce(id: string): Promise<void> {
  await runts(["delete", "--force", id], { root });
}

/** Lines of a section of `debug --stacks` (after `name:` up to the next unindented line). */
function section(out: string, name: string): string[] {
  const lines = out.split("\n");
  const at = lines.indexOf(`${name}:`);
  assert(at >= 0, `no "${name}:" section in:\n${out}`);
  const rest = lines.slice(at + 1);
  const end = rest.findIndex((l) => !l.startsWith("  "));
  return (end < 0 ? rest : rest.slice(0, end)).map((l) => l.trim());
}

Deno.test({
  name: "debug plan prints the init's syscall program by phase",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: ["sleep", "5"],
      mutate(s) {
        s.hostname = "planhost";
        s.mounts.push({ destination: "/data", type: "tmpfs", source: "tmpfs" });
      },
    });
    try {
      const r = await runts(["debug", "plan", b.dir], { root });
      assertEquals([r.code, r.stderr], [0, ""]);
      const lines = r.stdout.split("\n");
      assertStringIncludes(lines[0]!, `# init of ${JSON.stringify(b.dir)}: clone(`);
      for (const ns of ["pid", "network", "ipc", "uts", "mount"]) {
        assertMatch(lines[0]!, new RegExp(`clone\\(.*\\b${ns}\\b`));
      }
      const headers = lines.filter((l) => l.startsWith("## "));
      for (const h of ["## namespaces", "## rootfs", "## process"]) {
        assert(headers.includes(h), `no ${h} in ${JSON.stringify(headers)}`);
      }
      // The phases come in order: namespaces, rootfs, process.
      const pos = (h: string) => lines.indexOf(h);
      assert(pos("## namespaces") < pos("## rootfs") && pos("## rootfs") < pos("## process"));
      const steps = lines.filter((l) => /^\s*\d+ /.test(l));
      assert(steps.length > 20, `only ${steps.length} steps`);
      assert(steps.some((l) => l.includes(`pivot_root(".", ".")`)), "no pivot_root");
      assert(
        steps.some((l) => /sethostname\("planhost", 8\)/.test(l)),
        'no sethostname("planhost")',
      );
      // args[0] is looked up in PATH: the last execve is the one that exists, /bin/sleep.
      const execs = steps.filter((l) => l.includes("execve("));
      assert(execs.length > 0, "no execve");
      assertMatch(
        execs.at(-1)!,
        /execve\("\/proc\/self\/fd\/\d+", \["\/bin\/sleep","sleep","5"\].*through the exec stub/,
      );
      assert(pos("## process") < lines.indexOf(execs.at(-1)!), "execve after the process phase");
      // One move_mount per spec mount, naming its destination.
      const moves = steps.filter((l) => l.includes("move_mount("));
      for (
        const dest of ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/data"]
      ) {
        assert(
          moves.some((l) => l.endsWith(`# onto ${JSON.stringify(dest)}`)),
          `no move_mount onto ${dest}`,
        );
      }
      // Nothing ran: no state dir, no mount, no process.
      assertEquals(await leftovers(root), NOTHING);
      assertEquals([...Deno.readDirSync(root)], []);
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "debug plan prints exactly the program create runs (exec stub, seccomp, hook sync)",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: ["sleep", "5"],
      mutate(s) {
        s.linux.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          architectures: ["SCMP_ARCH_X86_64"],
          syscalls: [{ names: ["mkdirat"], action: "SCMP_ACT_ERRNO" }],
        };
        s.hooks = { createRuntime: [{ path: "/bin/true" }] };
      },
    });
    const id = `plan-${Deno.pid}`;
    try {
      const plan = await runts(["debug", "plan", b.dir], { root });
      assertEquals([plan.code, plan.stderr], [0, ""]);
      const printed = plan.stdout.trimEnd().split("\n").filter((l) => !l.startsWith("# "));
      // With --debug the sandbox process logs the program it runs, line by line.
      const c = await runts(["--debug", "create", "-b", b.dir, id], { root });
      assertEquals(c.code, 0, c.stderr);
      const ran = loggedInitPlan(`${root}/${id}/sandbox.log`);
      assertEquals(printed, ran);
      assert(ran.some((l) => l.includes("seccomp(")), "no seccomp step");
      assert(ran.some((l) => l.includes("through the exec stub")), "no exec stub");
      assert(ran.some((l) => l.includes("waiting for the create hooks")), "no hook sync");
    } finally {
      await deleteForce(id);
      await b.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "debug plan of a missing bundle names it",
  ...opts,
  async fn() {
    const missing = `${root}-no-such-bundle`;
    const r = await runts(["debug", "plan", missing], { root });
    assertEquals(r.code, 1);
    assertEquals(r.stdout, "");
    assertStringIncludes(r.stderr, JSON.stringify(missing));
    assertEquals(await leftovers(root), NOTHING);
    const none = await runts(["debug", "plan"], { root });
    assertEquals(none.code, 1);
    assertStringIncludes(none.stderr, "a bundle directory is required");
  },
});

Deno.test({
  name: "debug --ps and --stacks show the container's processes and the sandbox process",
  ...opts,
  async fn() {
    const id = "dbg";
    const b = await makeBundle({ args: ["sleep", "1000"] });
    try {
      await createStart(id, b);
      const s = await state(id);
      const sbPid = record(id).sandboxPid;
      assert(sbPid !== undefined && sbPid > 0);

      const ps = await runts(["debug", "--ps", id], { root });
      assertEquals([ps.code, ps.stderr], [0, ""]);
      const rows = ps.stdout.trim().split("\n").map((l) => l.split(" "));
      assertEquals(rows.length, 1, ps.stdout);
      assertEquals(rows[0]![1], String(s.pid)); // the pid column is the init's host pid
      assertEquals(rows[0]![2], String(sbPid)); // whose parent is the sandbox process
      assertStringIncludes(ps.stdout, "sleep 1000");

      let st = await runts(["debug", "--stacks", id], { root });
      assertEquals([st.code, st.stderr], [0, ""]);
      assertEquals(st.stdout.split("\n")[0], `sandbox process ${sbPid}`);
      const fds = section(st.stdout, "open fds");
      assertMatch(fds.find((l) => l.startsWith("3 ")) ?? "", /^3 -> socket:\[\d+\]$/);
      // The control socket the sandbox process listens on is that fd 3.
      assertEquals(
        fds.find((l) => l.startsWith("3 ")),
        `3 -> ${Deno.readLinkSync(`/proc/${sbPid}/fd/3`)}`,
      );
      assertEquals(section(st.stdout, "containers"), [`${id}: init ${s.pid} (S)`]);

      // A detached exec (no --pid-file) is the sandbox process's child: listed by both.
      const x = await runts(["exec", "-d", id, "sleep", "999"], { root });
      assertEquals([x.code, x.stderr], [0, ""]);
      const ps2 = await runts(["debug", "--ps", id], { root });
      const rows2 = ps2.stdout.trim().split("\n").map((l) => l.split(" "));
      assertEquals(rows2.length, 2, ps2.stdout);
      assertEquals(rows2[0]![1], String(s.pid));
      const execPid = Number(rows2[1]![1]);
      assertEquals(rows2[1]!.slice(7).join(" "), "sleep 999");
      assertEquals(rows2[1]![2], String(sbPid));
      st = await runts(["debug", "--stacks", id], { root });
      assertEquals(section(st.stdout, "containers"), [
        `${id}: init ${s.pid} (S) exec'd: ${execPid}`,
      ]);

      const bad = await runts(["debug", "--ps", "no-such"], { root });
      assertEquals(bad.code, 1);
      assertStringIncludes(bad.stderr, `container "no-such" does not exist`);

      const d = await runts(["delete", "--force", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await deleteForce(id);
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "wait blocks until the init exits and prints its exit status",
  ...opts,
  async fn() {
    const id = "wait-exit";
    const b = await makeBundle({ args: ["sh", "-c", "sleep 1000; exit 9"] });
    try {
      await createStart(id, b);
      assertEquals((await state(id)).status, "running");
      let done = false;
      const waiting = runts(["wait", id], { root }).finally(() => done = true);
      await waitForSleep(id);
      assert(!done, "wait returned while the init runs");
      await releaseSleep(id);
      const w = await waiting;
      assertEquals([w.code, w.stdout, w.stderr], [0, `{"id":"${id}","exitStatus":9}\n`, ""]);
      assertEquals((await state(id)).status, "stopped");
      // Once it has exited, wait answers at once with the same status.
      const again = await runts(["wait", id], { root });
      assertEquals(again.stdout, `{"id":"${id}","exitStatus":9}\n`);
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await deleteForce(id);
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "wait reports a signal: killed by KILL is 137 with signal 9",
  ...opts,
  async fn() {
    const id = "wait-kill";
    const b = await makeBundle({ args: ["sleep", "1000"] });
    try {
      await createStart(id, b);
      let done = false;
      const waiting = runts(["wait", id], { root }).finally(() => done = true);
      await new Promise((r) => setTimeout(r, 500));
      assert(!done, "wait returned while the init runs");
      const k = await runts(["kill", id, "KILL"], { root });
      assertEquals([k.code, k.stderr], [0, ""]);
      const w = await waiting;
      assertEquals([w.code, w.stdout, w.stderr], [
        0,
        `{"id":"${id}","exitStatus":137,"signal":9}\n`,
        "",
      ]);
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await deleteForce(id);
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "wait after create --pid-file: the exit status went to the caller's reaper",
  ...opts,
  async fn() {
    const id = "wait-pidfile";
    const b = await makeBundle({ args: ["sh", "-c", "sleep 1000; exit 9"] });
    const pidFile = `${b.dir}/init.pid`;
    try {
      await createStart(id, b, "--pid-file", pidFile);
      const pid = Number(await Deno.readTextFile(pidFile));
      assertEquals((await state(id)).pid, pid);
      let done = false;
      const waiting = runts(["wait", id], { root }).finally(() => done = true);
      await waitForSleep(id);
      assert(!done, "wait returned while the init runs");
      await releaseSleep(id);
      const w = await waiting;
      assertEquals([w.code, w.stderr], [0, ""]);
      const out = JSON.parse(w.stdout);
      assertEquals(out.id, id);
      assertEquals(out.exitStatus, null);
      assertStringIncludes(out.reaper, "--pid-file");
      assertEquals((await state(id)).status, "stopped");
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await deleteForce(id);
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "wait of an unknown container fails",
  ...opts,
  async fn() {
    const r = await runts(["wait", "no-such"], { root });
    assertEquals([r.code, r.stdout], [1, ""]);
    assertStringIncludes(r.stderr, `container "no-such" does not exist`);
  },
});
