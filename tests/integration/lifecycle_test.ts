/**
 * The container lifecycle through the CLI, as root, with a busybox rootfs: run, the
 * create/start/state/kill/delete cycle, and what a container sees inside.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";
import { readProcStat } from "../../src/linux/procs.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

function stateOf(out: string): { status: string; pid: number; id: string; bundle: string } {
  return JSON.parse(out);
}

Deno.test({
  name: "runts run prints the output and returns the exit code",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sh", "-c", "echo hi; exit 7"] });
    try {
      const r = await runts(["run", "--bundle", b.dir, "run-exit"], { root });
      assertEquals(r.stdout, "hi\n");
      assertEquals(r.code, 7);
      assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts run returns 128+signal when the process is killed",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "30"] });
    const id = "run-signal";
    try {
      const running = runts(["run", "-b", b.dir, id], { root });
      for (let i = 0; i < 600; i++) {
        const s = await runts(["state", id], { root });
        if (s.code === 0 && stateOf(s.stdout).status === "running") break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assertEquals((await runts(["kill", id, "KILL"], { root })).code, 0);
      const r = await running;
      assertEquals(r.code, 137);
      assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts run: the process is PID 1 with the spec's hostname, uid and mounts",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: [
        "sh",
        "-c",
        "grep -E '^(Pid|NoNewPrivs)' /proc/self/status; hostname; id -u; id -g; grep -c ' /proc proc ' /proc/mounts; ls /dev/null /dev/zero /dev/urandom; readlink /dev/fd; echo $HOME; pwd",
      ],
      mutate(s) {
        s.hostname = "boxy";
        s.process.user = { uid: 1000, gid: 1000 };
        s.process.cwd = "/tmp";
        s.process.env.push("HOME=/nowhere");
      },
    });
    try {
      const r = await runts(["run", "-b", b.dir, "run-facts"], { root });
      assertEquals(r.stderr, "");
      const lines = r.stdout.trim().split("\n");
      // grep is a child of sh, so it is 2; sh itself is 1 (checked below)
      assertMatch(lines[0]!, /^Pid:\s+\d+$/);
      assertEquals(lines.slice(2), [
        "boxy",
        "1000",
        "1000",
        "1",
        "/dev/null",
        "/dev/urandom",
        "/dev/zero",
        "/proc/self/fd",
        "/nowhere",
        "/tmp",
      ]);
      const r2 = await runts(["run", "-b", b.dir, "run-pid1"], { root });
      assertEquals(r2.code, 0);
      const b2 = await makeBundle({ args: ["sh", "-c", "echo $$"] });
      const r3 = await runts(["run", "-b", b2.dir, "run-pid1b"], { root });
      await b2.cleanup();
      assertEquals(r3.stdout.trim(), "1");
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "create, start, state, kill and delete follow runc's statuses",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: ["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done"],
    });
    const id = "cycle";
    try {
      const c = await runts(["create", "--bundle", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      let s = stateOf((await runts(["state", id], { root })).stdout);
      assertEquals(s.status, "created");
      assertEquals(s.id, id);
      assertEquals(s.bundle, b.dir);
      assert(s.pid > 0);
      const pid = s.pid;
      // Before start the process is set up but has not exec'd the user's program yet.
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
      assert(!cmdline.includes("while"), "the process must not run before start");

      const st = await runts(["start", id], { root });
      assertEquals([st.code, st.stderr], [0, ""]);
      s = stateOf((await runts(["state", id], { root })).stdout);
      assertEquals(s.status, "running");
      assertEquals(s.pid, pid);

      const del = await runts(["delete", id], { root });
      assertEquals(del.code, 1);
      assertStringIncludes(
        del.stderr,
        `cannot delete container "${id}": it is running (use --force)`,
      );

      // The shell has set its TERM trap (bit 15 of its SigCgt) before it is signalled: polled,
      // since TERM sent earlier would be ignored by a pid namespace's init without a handler.
      const caught = () => {
        const cgt = /^SigCgt:\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
        return (BigInt(`0x${cgt?.[1] ?? "0"}`) & (1n << 14n)) !== 0n;
      };
      for (let i = 0; i < 600 && !caught(); i++) await new Promise((r) => setTimeout(r, 50));
      assert(caught(), "the init never set its TERM trap");
      const k = await runts(["kill", id, "TERM"], { root });
      assertEquals([k.code, k.stderr], [0, ""]);
      for (let i = 0; i < 600; i++) {
        s = stateOf((await runts(["state", id], { root })).stdout);
        if (s.status === "stopped") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals(s.status, "stopped");
      const k2 = await runts(["kill", id, "KILL"], { root });
      assertEquals(k2.code, 1);
      assertStringIncludes(k2.stderr, "container not running");

      const rec = JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`));
      assert(rec.sandboxPid > 0, `sandboxPid ${rec.sandboxPid}`);
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      // delete returns once the sandbox process has ended (gone, or a zombie not yet reaped)
      const sb = readProcStat(rec.sandboxPid);
      const ended = sb === undefined || sb.startTime !== rec.sandboxStartTime || sb.state === "Z";
      assert(ended, `the sandbox process is ${sb?.state}`);
      const gone = await runts(["state", id], { root });
      assertEquals(gone.code, 1);
      assertStringIncludes(gone.stderr, `container "${id}" does not exist`);
      assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});
