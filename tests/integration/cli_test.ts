/**
 * The command line as people meet it: help for every command, `runts help`, --version,
 * `runts check` on this host and on a fake host view, `runts spec`'s hostname.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { newRoot, runts } from "./_helpers.ts";
import { commandHelp, mainHelp } from "../../src/cmd/cli.ts";
import { COMMANDS, GLOBAL_FLAGS } from "../../src/cmd/defs.ts";
import { VERSION } from "../../src/version.ts";

const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const root = Deno.uid() === 0 ? await newRoot() : "";

Deno.test({
  name: "every command answers --help, -h and `runts help COMMAND` with its help, exit 0",
  ...opts,
  async fn() {
    for (const c of COMMANDS.filter((c) => !c.hidden)) {
      for (const args of [[c.name, "--help"], [c.name, "-h"], ["help", c.name]]) {
        const r = await runts(args, { root });
        assertEquals([r.code, r.stdout, r.stderr], [0, commandHelp(c) + "\n", ""], args.join(" "));
      }
    }
    const main = mainHelp(VERSION, GLOBAL_FLAGS, COMMANDS) + "\n";
    for (const args of [[], ["--help"], ["-h"], ["help"]]) {
      const r = await runts(args, { root });
      assertEquals([r.code, r.stdout, r.stderr], [0, main, ""], args.join(" ") || "(none)");
    }
    const bad = await runts(["help", "strat"], { root });
    assertEquals(
      [bad.code, bad.stderr],
      [1, `runts: unknown command "strat" (did you mean "start"?); see 'runts --help'\n`],
    );
  },
});

Deno.test({
  name: "runts --version: version, commit, spec, then Deno, V8 and libseccomp",
  ...opts,
  async fn() {
    const r = await runts(["--version"], { root });
    assertEquals(r.code, 0);
    const lines = r.stdout.trim().split("\n");
    assertEquals(lines[0], `runts version ${VERSION}`);
    assertMatch(lines[1]!, /^commit: [0-9a-f]{40}$/);
    assertEquals(lines.slice(2, 5), [
      "spec: 1.2.0",
      `deno: ${Deno.version.deno}`,
      `v8: ${Deno.version.v8}`,
    ]);
    const scmp = lines.find((l) => l.startsWith("libseccomp: "));
    let haveLib = true;
    try {
      Deno.dlopen("libseccomp.so.2", {}).close();
    } catch {
      haveLib = false;
    }
    assertEquals(scmp !== undefined, haveLib);
    if (scmp) assertMatch(scmp, /^libseccomp: \d+\.\d+\.\d+$/);
  },
});

Deno.test({
  name: "runts check on this host: a line per capability, JSON agrees, exit 0 iff run's needs",
  ...opts,
  async fn() {
    const text = await runts(["check"], { root });
    const json = await runts(["check", "--format", "json"], { root });
    const doc = JSON.parse(json.stdout) as {
      ok: boolean;
      checks: { name: string; ok: boolean; required: boolean; detail: string }[];
    };
    assertEquals(doc.ok, doc.checks.every((c) => !c.required || c.ok));
    assertEquals(text.code, doc.ok ? 0 : 1);
    assertEquals(json.code, text.code);
    const lines = text.stdout.trim().split("\n");
    assertEquals(lines.length, doc.checks.length + 1);
    doc.checks.forEach((c, i) => {
      assert(lines[i]!.startsWith(`${c.ok ? "✔" : "✘"} ${c.name}: ${c.detail}`), lines[i]);
    });
    // What this host certainly has, since the other integration tests run containers on it.
    for (const name of ["mount namespace", "pid namespace", "new mount API", "openat2", "pidfds"]) {
      assert(doc.checks.find((c) => c.name === name)?.ok, name);
    }
    const release = Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
    assertEquals(doc.checks[0]!.detail, `Linux ${release} (runts needs 5.12 or newer)`);
    assertEquals(
      doc.checks.find((c) => c.name === "/dev/kvm")?.ok,
      (() => {
        try {
          Deno.statSync("/dev/kvm");
          return true;
        } catch {
          return false;
        }
      })(),
    );
  },
});

Deno.test({
  name: "runts check on a fake host view without user namespaces or cgroups: exit 1, named",
  ...opts,
  async fn() {
    const fake = await Deno.makeTempDir({ prefix: "runts-fake-host-" });
    try {
      await Deno.mkdir(`${fake}/proc/sys/kernel`, { recursive: true });
      await Deno.mkdir(`${fake}/proc/self/ns`, { recursive: true });
      await Deno.writeTextFile(`${fake}/proc/sys/kernel/osrelease`, "6.1.0\n");
      for (const ns of ["mnt", "pid", "uts", "ipc", "net"]) {
        await Deno.writeTextFile(`${fake}/proc/self/ns/${ns}`, "");
      }
      const r = await runts(["check", "--host-root", fake], { root });
      assertEquals(r.code, 1);
      const lines = r.stdout.trim().split("\n");
      assert(
        lines.includes(
          "✘ user namespace: no /proc/self/ns/user — specs asking for a user namespace fail",
        ),
      );
      assertEquals(
        lines.at(-1),
        "runts run cannot run containers here: missing cgroups",
      );
    } finally {
      await Deno.remove(fake, { recursive: true });
    }
  },
});

Deno.test({
  name: 'runts spec writes hostname "runts" and refuses to overwrite config.json',
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-spec-" });
    try {
      assertEquals((await runts(["spec", "-b", dir], { root })).code, 0);
      assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).hostname, "runts");
      const again = await runts(["spec", "--bundle", dir], { root });
      assertEquals(
        [again.code, again.stderr],
        [1, `runts: file ${JSON.stringify(`${dir}/config.json`)} already exists\n`],
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
