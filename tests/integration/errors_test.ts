/**
 * Bad input gets one clear line naming the thing, a non-zero exit, and leaves nothing behind.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

/** The single line runts prints on failure. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assertEquals(lines.length, 1, `expected one line of error, got: ${stderr}`);
  return lines[0]!;
}

async function clean(): Promise<void> {
  assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
}

Deno.test({
  name: "an unknown container id is named by state, start, kill and delete",
  ...opts,
  async fn(t) {
    for (const args of [["state"], ["start"], ["kill"], ["delete"]]) {
      await t.step(args[0]!, async () => {
        const r = await runts([...args, "no-such-id"], { root });
        assertEquals(r.code, 1);
        assertEquals(oneLine(r.stderr), 'runts: container "no-such-id" does not exist');
      });
    }
    const f = await runts(["delete", "--force", "no-such-id"], { root });
    assertEquals(f.code, 0, "delete --force of a container already gone succeeds");
  },
});

Deno.test({
  name: "a missing bundle, a missing rootfs and a malformed config.json are named",
  ...opts,
  async fn(t) {
    await t.step("missing bundle", async () => {
      const r = await runts(["create", "--bundle", "/nonexistent/bundle", "e1"], { root });
      assertEquals(r.code, 1);
      assertEquals(oneLine(r.stderr), 'runts: bundle "/nonexistent/bundle": no such directory');
      await clean();
    });
    await t.step("missing rootfs", async () => {
      const b = await makeBundle({ args: ["true"], mutate: (s) => (s.root.path = "nowhere") });
      try {
        const r = await runts(["create", "--bundle", b.dir, "e2"], { root });
        assertEquals(r.code, 1);
        assertEquals(oneLine(r.stderr), `runts: rootfs "${b.dir}/nowhere": no such directory`);
        await clean();
      } finally {
        await b.cleanup();
      }
    });
    await t.step("malformed JSON", async () => {
      const b = await makeBundle({ args: ["true"] });
      try {
        await Deno.writeTextFile(`${b.dir}/config.json`, '{"ociVersion": "1.2.0",\n  "root": }');
        const r = await runts(["run", "--bundle", b.dir, "e3"], { root });
        assertEquals(r.code, 1);
        const line = oneLine(r.stderr);
        assertStringIncludes(line, `${b.dir}/config.json: invalid JSON at line 2`);
        await clean();
      } finally {
        await b.cleanup();
      }
    });
    await t.step("a bad field", async () => {
      const b = await makeBundle({
        args: ["true"],
        mutate: (s) => {
          s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }];
        },
      });
      try {
        const r = await runts(["run", "--bundle", b.dir, "e4"], { root });
        assertEquals(r.code, 1);
        assertStringIncludes(oneLine(r.stderr), "linux.uidMappings[0].size");
        await clean();
      } finally {
        await b.cleanup();
      }
    });
  },
});

Deno.test({
  name: "a binary missing from the rootfs is named at create, and nothing is left",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["no-such-binary", "arg"] });
    try {
      for (const cmd of ["create", "run"]) {
        const r = await runts([cmd, "--bundle", b.dir, "e5"], { root });
        assertEquals(r.code, 1);
        assertEquals(
          oneLine(r.stderr),
          'runts: exec: "no-such-binary": executable file not found in $PATH',
        );
        await clean();
      }
      const b2 = await makeBundle({ args: ["/bin/nothing-here"] });
      const r = await runts(["create", "--bundle", b2.dir, "e6"], { root });
      await b2.cleanup();
      assertEquals(
        oneLine(r.stderr),
        'runts: exec: "/bin/nothing-here": no such file or directory',
      );
      await clean();
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "a second create with an existing id is refused and the first container is untouched",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "30"] });
    try {
      assertEquals((await runts(["create", "--bundle", b.dir, "dup"], { root })).code, 0);
      const r = await runts(["create", "--bundle", b.dir, "dup"], { root });
      assertEquals(r.code, 1);
      assertEquals(oneLine(r.stderr), 'runts: container "dup" already exists');
      const s = JSON.parse((await runts(["state", "dup"], { root })).stdout);
      assertEquals(s.status, "created");
      assertEquals((await runts(["start", "dup"], { root })).code, 0);
      assertEquals((await runts(["delete", "--force", "dup"], { root })).code, 0);
      await clean();
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "bad flags and signals are named",
  ...opts,
  async fn() {
    const f = await runts(["create", "--bogus", "x"], { root });
    assertEquals(f.code, 1);
    assertEquals(
      oneLine(f.stderr),
      `runts: create: unknown flag "--bogus"; see 'runts create --help'`,
    );
    const near = await runts(["run", "--bundel", "b", "x"], { root });
    assertEquals(near.code, 1);
    assertEquals(
      oneLine(near.stderr),
      `runts: run: unknown flag "--bundel" (did you mean "--bundle"?); see 'runts run --help'`,
    );
    const g = await runts(["--nope", "list"], { root });
    assertEquals(g.code, 1);
    assertEquals(oneLine(g.stderr), `runts: unknown global flag "--nope"; see 'runts --help'`);
    const s = await runts(["kill", "x", "SIGNOPE"], { root });
    assertEquals(oneLine(s.stderr), 'runts: invalid signal "SIGNOPE"');
    const c = await runts(["frobnicate"], { root });
    assertEquals(c.code, 1);
    assertEquals(oneLine(c.stderr), `runts: unknown command "frobnicate"; see 'runts --help'`);
    const st = await runts(["strat", "x"], { root });
    assertEquals(st.code, 1);
    assertEquals(
      oneLine(st.stderr),
      `runts: unknown command "strat" (did you mean "start"?); see 'runts --help'`,
    );
  },
});

Deno.test({
  name: "errors also go to --log as JSON lines",
  ...opts,
  async fn() {
    const log = await Deno.makeTempFile({ suffix: ".json" });
    try {
      const r = await runts(["--log", log, "--log-format", "json", "state", "ghost"], { root });
      assertEquals(r.code, 1);
      const lines = (await Deno.readTextFile(log)).trim().split("\n");
      const entry = JSON.parse(lines.at(-1)!);
      assertEquals(entry.level, "error");
      assertEquals(entry.msg, 'container "ghost" does not exist');
    } finally {
      await Deno.remove(log);
    }
  },
});

Deno.test({
  name: "a --log file that cannot be opened fails the command, naming it",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const log = `${dir}/missing/runts.log`;
      const r = await runts(["--log", log, "list"], { root });
      assertEquals([r.code, r.stdout], [1, ""]);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertStringIncludes(r.stderr, `runts: --log: No such file or directory (os error 2)`);
      assertStringIncludes(r.stderr, log);
      assertEquals([...Deno.readDirSync(dir)], []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a killed sandbox process: the running init is still the container's, to kill and delete",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "30"] });
    const id = "orphan";
    try {
      assertEquals((await runts(["run", "-d", "--bundle", b.dir, id], { root })).code, 0);
      const rec = JSON.parse(await Deno.readTextFile(`${root}/${id}/state.json`));
      Deno.kill(rec.sandboxPid, "SIGKILL");
      // The kill is delivered at once; the process is gone once /proc says so (polled).
      const gone = () => {
        try {
          const st = Deno.readTextFileSync(`/proc/${rec.sandboxPid}/stat`);
          return ["Z", "X"].includes(st.slice(st.lastIndexOf(")") + 2).split(" ")[0]!);
        } catch {
          return true; // reaped
        }
      };
      for (let i = 0; i < 600 && !gone(); i++) await new Promise((r) => setTimeout(r, 50));
      assert(gone(), `the sandbox process ${rec.sandboxPid} survived SIGKILL`);
      // The init runs on (a host process, reparented): state says so, and kill reaches it.
      const s = JSON.parse((await runts(["state", id], { root })).stdout);
      assertEquals([s.status, s.pid], ["running", rec.pid]);
      const ps = await runts(["ps", id], { root });
      assertStringIncludes(ps.stdout, "sleep 30");
      const k = await runts(["kill", id, "KILL"], { root });
      assertEquals([k.code, k.stderr], [0, ""]);
      let status = "running";
      for (let i = 0; i < 600 && status !== "stopped"; i++) {
        await new Promise((r) => setTimeout(r, 50));
        status = JSON.parse((await runts(["state", id], { root })).stdout).status;
      }
      assertEquals(status, "stopped");
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      await clean();
    } finally {
      await b.cleanup();
    }
  },
});
