/**
 * OCI hooks through the CLI, as root, with a busybox rootfs: each point runs at its step of
 * create/start/delete with the state on stdin and in the right namespaces, args and env are
 * exact, timeouts and failures are reported naming the hook, and a failing poststop only warns.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { type BundleSpec, leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";
import type { Hook } from "../../src/oci/spec.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The single line runts prints on failure. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assertEquals(lines.length, 1, `expected one line of error, got: ${stderr}`);
  return lines[0]!;
}

async function status(id: string): Promise<string> {
  const r = await runts(["state", id], { root });
  return r.code === 0 ? JSON.parse(r.stdout).status : `(state failed: ${r.stderr.trim()})`;
}

async function waitStatus(id: string, want: string, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  let s = await status(id);
  while (s !== want && Date.now() < end) {
    await sleep(50);
    s = await status(id);
  }
  return s;
}

/** A hook appending `<name> <mount namespace> <state JSON from stdin>` to `file`. */
function logHook(name: string, file: string): Hook {
  return {
    path: "/bin/sh",
    args: ["sh", "-c", `echo "${name} $(readlink /proc/self/ns/mnt) $(cat)" >> ${file}`],
    env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
  };
}

/** One line of the log: hook name, its mount namespace, the state it got. */
interface Entry {
  name: string;
  mnt: string;
  state: { ociVersion: string; id: string; status: string; pid?: number; bundle: string };
}

async function readLog(file: string): Promise<Entry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return [];
  }
  return text.trim().split("\n").filter((l) => l).map((l) => {
    const [name, mnt, ...rest] = l.split(" ");
    return { name: name!, mnt: mnt!, state: JSON.parse(rest.join(" ")) };
  });
}

/** A temp dir on the host for hooks' output; removed by cleanup(). */
async function hostDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "runts-hooks-" });
  return { dir, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

/** A script file in `dir` (mode 0755) for hooks whose path should be recognisable. */
async function script(dir: string, name: string, body: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test({
  name: "each hook runs at its point of create, start and delete with the state on stdin",
  ...opts,
  async fn() {
    const h = await hostDir();
    const log = `${h.dir}/log`;
    const id = "hooks-order";
    const b = await makeBundle({
      args: ["sleep", "300"],
      mutate(s) {
        // startContainer runs in the container after pivot_root: it writes through a bind
        // mount of the host dir (on /tmp, which the shared rootfs has).
        s.mounts.push({ destination: "/tmp", type: "bind", source: h.dir, options: ["rbind"] });
        s.hooks = {
          prestart: [logHook("prestart", log)],
          createRuntime: [logHook("createRuntime", log)],
          createContainer: [logHook("createContainer", log)],
          startContainer: [logHook("startContainer", "/tmp/log")],
          poststart: [logHook("poststart", log)],
          poststop: [logHook("poststop", log)],
        };
      },
    });
    try {
      const hostMnt = await Deno.readLink("/proc/self/ns/mnt");
      const c = await runts(["create", "--bundle", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const pid: number = JSON.parse((await runts(["state", id], { root })).stdout).pid;
      const ctrMnt = await Deno.readLink(`/proc/${pid}/ns/mnt`);
      assert(ctrMnt !== hostMnt);
      const at = (e: Entry) => [e.name, e.state.status, e.mnt];
      let entries = await readLog(log);
      assertEquals(entries.map(at), [
        ["prestart", "creating", hostMnt],
        ["createRuntime", "creating", hostMnt],
        ["createContainer", "creating", ctrMnt],
      ]);

      const st = await runts(["start", id], { root });
      assertEquals([st.code, st.stderr], [0, ""]);
      entries = await readLog(log);
      assertEquals(entries.slice(3).map(at), [
        ["startContainer", "created", ctrMnt],
        ["poststart", "running", hostMnt],
      ]);
      assertEquals(await status(id), "running");

      const k = await runts(["kill", id, "KILL"], { root });
      assertEquals(k.code, 0, k.stderr);
      assertEquals(await waitStatus(id, "stopped"), "stopped");
      assertEquals((await readLog(log)).length, 5, "poststop waits for delete");
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      entries = await readLog(log);
      assertEquals(entries.slice(5).map((e) => [e.name, e.state.status]), [[
        "poststop",
        "stopped",
      ]]);

      for (const e of entries) {
        assertEquals([e.state.id, e.state.bundle], [id, b.dir], e.name);
        assert(typeof e.state.ociVersion === "string", e.name);
        // the container's pid as seen by the host (runtime-spec state); runc gives 1 to the
        // hooks run in the container and none to poststop
        if (e.name !== "poststop") assertEquals(e.state.pid, pid, e.name);
      }
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      await h.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "a hook gets exactly its args (argv[0] included) and env",
  ...opts,
  async fn() {
    const h = await hostDir();
    const out = `${h.dir}/out`;
    const b = await makeBundle({
      args: ["true"],
      mutate(s) {
        s.hooks = {
          createRuntime: [{
            path: "/bin/sh",
            args: [
              "my-argv0",
              "-c",
              `tr '\\0' '|' </proc/$$/cmdline >${out}; echo >>${out}; env | sort >>${out}`,
              "arg0",
              "arg1",
            ],
            env: ["HV=hook value", "PATH=/usr/bin:/bin"],
          }],
        };
      },
    });
    try {
      const r = await runts(["run", "-b", b.dir, "hooks-args"], { root });
      assertEquals([r.code, r.stderr], [0, ""]);
      const lines = (await Deno.readTextFile(out)).trim().split("\n");
      assertEquals(
        lines[0],
        `my-argv0|-c|tr '\\0' '|' </proc/$$/cmdline >${out}; echo >>${out}; env | sort >>${out}|arg0|arg1|`,
      );
      // sh adds PWD itself
      assertEquals(lines.slice(1).filter((l) => !l.startsWith("PWD=")), [
        "HV=hook value",
        "PATH=/usr/bin:/bin",
      ]);
    } finally {
      await b.cleanup();
      await h.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

/** Host pids whose command line is exactly `cmd`. */
function pidsOf(cmd: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const c = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0").filter((a) => a);
      if (c.join(" ") === cmd) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out;
}

Deno.test({
  name: "a hook that outlives its timeout is killed and create fails naming it",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: ["true"],
      mutate: (s: BundleSpec) => {
        s.hooks = {
          createRuntime: [{ path: "/bin/sleep", args: ["sleep", "3600.25"], timeout: 1 }],
        };
      },
    });
    try {
      // No duration is asserted: the hook would sleep an hour, so create returning at all (within
      // runts()'s 60 s hang guard) with the timeout error, and the hook process being gone, show
      // that the hook was killed at its timeout rather than waited for.
      const r = await runts(["create", "-b", b.dir, "hooks-timeout"], { root, timeoutMs: 60_000 });
      assertEquals([r.code, r.stdout], [1, ""]);
      const line = oneLine(r.stderr);
      assertStringIncludes(line, 'createRuntime hook "/bin/sleep"');
      assertStringIncludes(line, "timed out");
      assertEquals(pidsOf("sleep 3600.25"), [], "the hook was killed");
      assertEquals((await runts(["state", "hooks-timeout"], { root })).code, 1);
    } finally {
      await b.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "a failing createRuntime hook fails create naming the hook and its status",
  ...opts,
  async fn() {
    const h = await hostDir();
    const path = await script(h.dir, "fail-hook.sh", "echo oops >&2\nexit 3");
    const b = await makeBundle({
      args: ["true"],
      mutate: (s) => (s.hooks = { createRuntime: [{ path }] }),
    });
    try {
      const r = await runts(["create", "-b", b.dir, "hooks-fail"], { root });
      assertEquals([r.code, r.stdout], [1, ""]);
      const line = oneLine(r.stderr);
      assertStringIncludes(line, `createRuntime hook ${JSON.stringify(path)}`);
      assertStringIncludes(line, "exit status 3");
      assertStringIncludes(line, "oops", "the hook's output is in the error");
      const s = await runts(["state", "hooks-fail"], { root });
      assertEquals([s.code, s.stderr.trim()], [1, 'runts: container "hooks-fail" does not exist']);
    } finally {
      await b.cleanup();
      await h.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name:
    "a failing poststart hook is a warning: start succeeds, the container runs, the next hook runs",
  ...opts,
  async fn() {
    const h = await hostDir();
    const path = await script(h.dir, "poststart-hook.sh", "exit 2");
    const after = await script(h.dir, "poststart-after.sh", `touch ${h.dir}/after-ran`);
    const id = "hooks-poststart";
    const b = await makeBundle({
      args: ["sleep", "300"],
      mutate: (s) => (s.hooks = { poststart: [{ path }, { path: after }] }),
    });
    try {
      const c = await runts(["create", "-b", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const st = await runts(["start", id], { root });
      assertEquals(st.code, 0);
      assertEquals(
        st.stderr,
        `runts: warning: poststart hook ${JSON.stringify(path)}: exit status 2\n`,
      );
      assertEquals(await status(id), "running");
      assert(await Deno.stat(`${h.dir}/after-ran`).then(() => true, () => false));
      const k = await runts(["kill", id, "KILL"], { root });
      assertEquals([k.code, k.stderr], [0, ""]);
      assertEquals(await waitStatus(id, "stopped"), "stopped");
      const d = await runts(["delete", id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      await h.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

/** A bundle whose poststop hooks are a failing script and then one touching `after-ran`. */
async function poststopBundle(
  dir: string,
): Promise<{ path: string; b: Awaited<ReturnType<typeof makeBundle>> }> {
  const path = await script(dir, "poststop-hook.sh", "exit 2");
  const after = await script(dir, "after.sh", `touch ${dir}/after-ran`);
  const b = await makeBundle({
    args: ["true"],
    mutate: (s) => (s.hooks = { poststop: [{ path }, { path: after }] }),
  });
  return { path, b };
}

/** Runs the container to its end with `run -d` and deletes it; returns delete's result. */
async function runAndDelete(id: string, bundle: string) {
  const r = await runts(["run", "-d", "-b", bundle, id], { root });
  assertEquals([r.code, r.stderr], [0, ""]);
  assertEquals(await waitStatus(id, "stopped"), "stopped");
  return await runts(["delete", id], { root });
}

Deno.test({
  name: "a failing poststop hook is only a warning: delete succeeds",
  ...opts,
  async fn() {
    const h = await hostDir();
    const { path, b } = await poststopBundle(h.dir);
    const id = "hooks-poststop";
    try {
      const d = await runAndDelete(id, b.dir);
      assertEquals(d.code, 0);
      const line = oneLine(d.stderr);
      assertStringIncludes(line, "warning");
      assertStringIncludes(line, `poststop hook ${JSON.stringify(path)}`);
      const s = await runts(["state", id], { root });
      assertEquals(s.code, 1, "the container is gone");
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      await h.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "the poststop hooks after a failing one still run",
  ...opts,
  async fn() {
    const h = await hostDir();
    const { b } = await poststopBundle(h.dir);
    const id = "hooks-poststop-rest";
    try {
      const d = await runAndDelete(id, b.dir);
      assertEquals(d.code, 0);
      assertStringIncludes(d.stderr, "warning");
      const ran = await Deno.stat(`${h.dir}/after-ran`).then(() => true, () => false);
      assert(ran, "the poststop hook after the failing one ran");
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      await h.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});
