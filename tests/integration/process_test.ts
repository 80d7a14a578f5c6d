/**
 * The container's process as the spec describes it (user, umask, env, cwd, args, rlimits,
 * noNewPrivileges, capabilities, signals, inherited fds), --pid-file, and the commands that
 * do not run containers: features, spec, list and --version.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import {
  type BundleSpec,
  leftovers,
  makeBundle,
  MARKER,
  newRoot,
  ROOTFS,
  runts,
} from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

const NOTHING = { dirs: [], mounts: [], processes: [] };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a container with args (spec changed by mutate; a rootfs copy with copy). */
async function run(
  id: string,
  args: string[],
  mutate: (s: BundleSpec) => void = () => {},
  copy = false,
): Promise<Run> {
  const b = await makeBundle({ args, mutate, copyRootfs: copy });
  try {
    return await runts(["run", "-b", b.dir, id], { root });
  } finally {
    await b.cleanup();
  }
}

/** Runs `sh -c script` in a container. */
function sh(id: string, script: string, mutate?: (s: BundleSpec) => void): Promise<Run> {
  return run(id, ["sh", "-c", script], mutate);
}

function stateOf(out: string): { status: string; pid: number; id: string; bundle: string } {
  return JSON.parse(out);
}

/** The value of one line of /proc/<pid>/status, e.g. "1234\t1" for NSpid. */
async function statusLine(pid: number, name: string): Promise<string> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const line = status.split("\n").find((l) => l.startsWith(`${name}:`));
  assert(line !== undefined, `no ${name} in /proc/${pid}/status`);
  return line.slice(name.length + 1).trim();
}

Deno.test({
  name: "runts run: process.user sets uid, gid and exactly the additionalGids",
  ...opts,
  async fn() {
    const r = await sh("proc-user", "id; grep -E '^(Uid|Gid|Groups):' /proc/self/status", (s) => {
      s.process.user = { uid: 1000, gid: 1001, additionalGids: [5, 2000] };
    });
    assertEquals(r.stderr, "");
    assertEquals(
      r.stdout,
      [
        "uid=1000 gid=1001 groups=5,2000",
        "Uid:\t1000\t1000\t1000\t1000",
        "Gid:\t1001\t1001\t1001\t1001",
        "Groups:\t5 2000 ",
        "",
      ].join("\n"),
    );
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: process.user.umask 23 (0o027) is the process's umask",
  ...opts,
  async fn() {
    const r = await sh(
      "proc-umask",
      "umask; grep Umask /proc/self/status; touch /dev/shm/f; mkdir /dev/shm/d; stat -c %a /dev/shm/f /dev/shm/d",
      (s) => {
        s.process.user = { uid: 0, gid: 0, umask: 23 };
      },
    );
    assertEquals(r.stderr, "");
    assertEquals(r.stdout, "0027\nUmask:\t0027\n640\n750\n");
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: process.env is the exact environment, and its PATH finds args[0]",
  ...opts,
  async fn() {
    // pid 1's environ is what the runtime passed to execve, in order (a pipeline, so that sh
    // stays pid 1 instead of exec'ing the last command)
    const r = await sh("proc-env", "cat /proc/1/environ | tr '\\0' '\\n'", (s) => {
      s.process.env.unshift("FOO=bar baz", "EMPTY=", "HOME=/home/x", "WITH=an=equals");
    });
    assertEquals(r.stderr, "");
    const bundleLine = r.stdout.split("\n").find((l) => l.startsWith(`${MARKER}=`));
    assertEquals(r.stdout.split("\n"), [
      "FOO=bar baz",
      "EMPTY=",
      "HOME=/home/x",
      "WITH=an=equals",
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      bundleLine,
      "",
    ]);
    assertEquals(r.code, 0);

    // args[0] without a slash is looked up in the container's PATH, not the runtime's
    const b = await makeBundle({
      copyRootfs: true,
      args: ["hello-runts", "arg"],
      mutate(s) {
        s.process.env = s.process.env.map((e) =>
          e.startsWith("PATH=") ? "PATH=/opt/none:/opt/tools:/bin" : e
        );
      },
    });
    try {
      await Deno.mkdir(`${b.dir}/rootfs/opt/tools`, { recursive: true });
      await Deno.writeTextFile(
        `${b.dir}/rootfs/opt/tools/hello-runts`,
        '#!/bin/sh\necho "hello from $0 $1"\n',
        { mode: 0o755 },
      );
      const p = await runts(["run", "-b", b.dir, "proc-path"], { root });
      assertEquals(p.stderr, "");
      assertEquals(p.stdout, "hello from /opt/tools/hello-runts arg\n");
      assertEquals(p.code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts run: HOME is set from the rootfs's /etc/passwd when process.env has none",
  ...opts,
  async fn() {
    const r = await sh("proc-home", "cat /proc/1/environ | tr '\\0' '\\n' | grep ^HOME=");
    assertEquals([r.stdout, r.stderr], ["HOME=/root\n", ""]);
    const u = await sh("proc-home-1000", "echo $HOME", (s) => {
      s.process.user = { uid: 1000, gid: 1000 };
    });
    assertEquals([u.stdout, u.stderr], ["/\n", ""]);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: process.cwd is the working directory, args with spaces are kept",
  ...opts,
  async fn() {
    const r = await run(
      "proc-cwd-args",
      ["sh", "-c", 'pwd; for a in "$@"; do echo "[$a]"; done', "argv0", "a b", "", "  c  ", "*"],
      (s) => {
        s.process.cwd = "/etc";
      },
    );
    assertEquals(r.stderr, "");
    assertEquals(r.stdout, "/etc\n[a b]\n[]\n[  c  ]\n[*]\n");
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a missing process.cwd is created, as runc does",
  ...opts,
  async fn() {
    const b = await makeBundle({
      copyRootfs: true,
      args: ["sh", "-c", "pwd; stat -c '%a %u' ."],
      mutate: (s) => (s.process.cwd = "/no/such/dir"),
    });
    try {
      const r = await runts(["run", "-b", b.dir, "proc-cwd-missing"], { root });
      assertEquals([r.stdout, r.stderr, r.code], ["/no/such/dir\n755 0\n", "", 0]);
      assert((await Deno.stat(`${b.dir}/rootfs/no/such/dir`)).isDirectory);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts create --pid-file: the file holds the init's host pid, pid 1 in its namespace",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "60"] });
    const id = "proc-pidfile";
    try {
      const pidFile = `${b.dir}/container.pid`;
      const c = await runts(["create", "--pid-file", pidFile, "-b", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const text = await Deno.readTextFile(pidFile);
      assertMatch(text, /^\d+$/);
      const s = stateOf((await runts(["state", id], { root })).stdout);
      assertEquals(Number(text), s.pid);
      assertEquals(await statusLine(s.pid, "NSpid"), `${s.pid}\t1`);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts run: rlimits set the soft and hard limits",
  ...opts,
  async fn() {
    const r = await sh(
      "proc-rlimits",
      "ulimit -n; ulimit -Hn; ulimit -u; grep -E '^Max (open files|processes)' /proc/self/limits | tr -s ' '",
      (s) => {
        s.process.rlimits = [
          { type: "RLIMIT_NOFILE", hard: 2048, soft: 512 },
          { type: "RLIMIT_NPROC", hard: 300, soft: 200 },
        ];
      },
    );
    assertEquals(r.stderr, "");
    assertEquals(
      r.stdout,
      [
        "512",
        "2048",
        "200",
        "Max processes 200 300 processes ",
        "Max open files 512 2048 files ",
        "",
      ].join("\n"),
    );
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: noNewPrivileges sets NoNewPrivs, and leaves it clear when false",
  ...opts,
  async fn() {
    const on = await sh("proc-nnp", "grep NoNewPrivs /proc/self/status", (s) => {
      s.process.noNewPrivileges = true;
    });
    assertEquals([on.stdout, on.stderr], ["NoNewPrivs:\t1\n", ""]);
    const off = await sh("proc-nnp-off", "grep NoNewPrivs /proc/self/status", (s) => {
      s.process.noNewPrivileges = false;
    });
    assertEquals([off.stdout, off.stderr], ["NoNewPrivs:\t0\n", ""]);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: capabilities sets match the spec (CAP_KILL|CAP_NET_BIND_SERVICE = 0x420)",
  ...opts,
  async fn() {
    const caps = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    const script = "grep ^Cap /proc/self/status";
    const r = await sh("proc-caps", script, (s) => {
      s.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
    });
    assertEquals(r.stderr, "");
    assertEquals(
      r.stdout,
      [
        "CapInh:\t0000000000000000",
        "CapPrm:\t0000000000000420",
        "CapEff:\t0000000000000420",
        "CapBnd:\t0000000000000420",
        "CapAmb:\t0000000000000000",
        "",
      ].join("\n"),
    );

    // A non-root user keeps an ambient capability (CAP_KILL = bit 5) across exec.
    const a = await sh("proc-caps-ambient", script, (s) => {
      s.process.user = { uid: 1000, gid: 1000 };
      s.process.noNewPrivileges = false;
      s.process.capabilities = {
        bounding: caps,
        effective: caps,
        permitted: caps,
        inheritable: ["CAP_KILL"],
        ambient: ["CAP_KILL"],
      };
    });
    assertEquals(a.stderr, "");
    assertEquals(
      a.stdout,
      [
        "CapInh:\t0000000000000020",
        "CapPrm:\t0000000000000020",
        "CapEff:\t0000000000000020",
        "CapBnd:\t0000000000000420",
        "CapAmb:\t0000000000000020",
        "",
      ].join("\n"),
    );
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: SIGPIPE is not ignored (SigIgn is zero, yes dies of SIGPIPE)",
  ...opts,
  async fn() {
    const r = await sh(
      "proc-sigpipe",
      "grep -E '^Sig(Ign|Blk)' /proc/self/status; (yes; echo \"yes: $?\" >&2) | head -1",
    );
    assertEquals(r.stdout, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\ny\n");
    assertEquals(r.stderr, "yes: 141\n"); // 128 + SIGPIPE
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: no runtime fd reaches the container (only 0, 1, 2 and ls's own)",
  ...opts,
  async fn() {
    // Inside: the process itself (busybox ls runs in pid 1's shell, so pid 1 is checked from
    // the host below, where no shell keeps pipes or saved fds of its own).
    const r = await sh("proc-fds", "ls /proc/self/fd");
    assertEquals(r.stderr, "");
    // fd 3 is the directory ls reads
    assertEquals(r.stdout, "0\n1\n2\n3\n");
    assertEquals(await leftovers(root), NOTHING);

    // The same from the host, for a started container.
    const b = await makeBundle({ args: ["sleep", "60"] });
    const id = "proc-fds-started";
    try {
      assertEquals((await runts(["create", "-b", b.dir, id], { root })).code, 0);
      assertEquals((await runts(["start", id], { root })).code, 0);
      const pid = stateOf((await runts(["state", id], { root })).stdout).pid;
      const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => e.name).sort();
      assertEquals(fds, ["0", "1", "2"]);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts features prints JSON with the supported OCI versions, hooks and namespaces",
  ...opts,
  async fn() {
    const r = await runts(["features"], { root });
    assertEquals([r.code, r.stderr], [0, ""]);
    const f = JSON.parse(r.stdout);
    assertEquals(f.ociVersionMin, "1.0.0");
    assertMatch(f.ociVersionMax, /^1\.\d+\.\d+/);
    assert(Array.isArray(f.hooks) && f.hooks.includes("prestart"), r.stdout);
    assert(Array.isArray(f.mountOptions) && f.mountOptions.includes("rbind"), r.stdout);
    for (const ns of ["pid", "network", "ipc", "uts", "mount", "user", "cgroup"]) {
      assert(f.linux.namespaces.includes(ns), `features.linux.namespaces lacks ${ns}`);
    }
  },
});

Deno.test({
  name: "runts spec writes a config.json that run accepts with new args and terminal off",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-spec-" });
    try {
      const r = await runts(["spec", "--bundle", dir], { root });
      assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
      const spec = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      assertEquals(spec.process.args, ["sh"]);
      assertEquals(spec.process.terminal, true);
      assertEquals(spec.root, { path: "rootfs", readonly: true });
      const again = await runts(["spec", "--bundle", dir], { root });
      assertEquals(again.code, 1);
      assertStringIncludes(again.stderr, "already exists");

      spec.process.args = ["sh", "-c", "echo from-spec; hostname; id -u"];
      spec.process.terminal = false;
      spec.process.env.push(`${MARKER}=${dir}`);
      await Deno.symlink(ROOTFS, `${dir}/rootfs`);
      await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(spec));
      const ran = await runts(["run", "-b", dir, "proc-spec"], { root });
      assertEquals(ran.stderr, "");
      assertEquals(ran.stdout, `from-spec\n${spec.hostname}\n0\n`);
      assertEquals(ran.code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runts list, list --format json and list -q show a created container",
  ...opts,
  async fn() {
    const listRoot = await newRoot();
    const b = await makeBundle({ args: ["sleep", "60"] });
    const id = "proc-list";
    try {
      const empty = await runts(["list", "-q"], { root: listRoot });
      assertEquals([empty.code, empty.stdout, empty.stderr], [0, "", ""]);
      assertEquals((await runts(["create", "-b", b.dir, id], { root: listRoot })).code, 0);
      const s = stateOf((await runts(["state", id], { root: listRoot })).stdout);

      const table = await runts(["list"], { root: listRoot });
      assertEquals([table.code, table.stderr], [0, ""]);
      const rows = table.stdout.trimEnd().split("\n").map((l) => l.trim().split(/\s+/));
      assertEquals(rows[0]!.slice(0, 5), ["ID", "PID", "STATUS", "BUNDLE", "CREATED"]);
      assertEquals(rows.length, 2, table.stdout);
      assertEquals(rows[1]!.slice(0, 4), [id, String(s.pid), "created", b.dir]);

      const json = await runts(["list", "--format", "json"], { root: listRoot });
      assertEquals([json.code, json.stderr], [0, ""]);
      const list = JSON.parse(json.stdout);
      assertEquals(list.length, 1);
      assertEquals(
        [list[0].id, list[0].pid, list[0].status, list[0].bundle],
        [id, s.pid, "created", b.dir],
      );

      const quiet = await runts(["list", "-q"], { root: listRoot });
      assertEquals([quiet.code, quiet.stdout, quiet.stderr], [0, `${id}\n`, ""]);

      assertEquals((await runts(["delete", "--force", id], { root: listRoot })).code, 0);
      assertEquals((await runts(["list", "-q"], { root: listRoot })).stdout, "");
      assertEquals(await leftovers(listRoot), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root: listRoot });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts list shows the container's owner (the state's user name) as runc does",
  ...opts,
  async fn() {
    const listRoot = await newRoot();
    const b = await makeBundle({ args: ["sleep", "60"] });
    const id = "proc-list-owner";
    try {
      assertEquals((await runts(["create", "-b", b.dir, id], { root: listRoot })).code, 0);
      const json = await runts(["list", "--format", "json"], { root: listRoot });
      assertEquals(JSON.parse(json.stdout)[0].owner, "root");
      const table = await runts(["list"], { root: listRoot });
      assertEquals(table.stdout.trimEnd().split("\n")[1]!.trim().split(/\s+/).at(-1), "root");
    } finally {
      await runts(["delete", "--force", id], { root: listRoot });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts --version prints `runts version` first, then the spec version",
  ...opts,
  async fn() {
    const r = await runts(["--version"], { root });
    assertEquals([r.code, r.stderr], [0, ""]);
    const lines = r.stdout.trimEnd().split("\n");
    assertMatch(lines[0]!, /^runts version \d+\.\d+\.\d+/);
    assert(lines.some((l) => /^spec: 1\.\d+\.\d+/.test(l)), r.stdout);
  },
});
