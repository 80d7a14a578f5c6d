/**
 * Container escapes, one class per test: each makes its own minimal attempt of the attack a
 * published runc CVE describes and shows that it fails.
 *
 * - CVE-2019-5736: a container process reaching the runtime's binary through /proc/<pid>/exe;
 * - CVE-2024-21626: a runtime fd leaked into the container (process.cwd /proc/self/fd/N);
 * - CVE-2021-30465: a mount target swapped for a symlink pointing out of the rootfs;
 * - CVE-2025-31133 / 52565 / 52881: /dev/null or a read-only path replaced by a symlink so that
 *   masking or remounting hits something else;
 * - the control socket: only root (or the runtime's user) may drive the sandbox process.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import {
  type BundleSpec,
  leftovers,
  makeBundle,
  newRoot,
  PYTHON,
  REPO,
  ROOTFS,
  runts,
  RUNTS_BIN,
} from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

const NOTHING = { dirs: [], mounts: [], processes: [] };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command on the host (optionally as another user through setpriv). */
async function host(cmd: string, args: string[], uid?: number): Promise<Run> {
  const argv = uid === undefined
    ? [cmd, ...args]
    : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", cmd, ...args];
  const o = await new Deno.Command(argv[0]!, { args: argv.slice(1), stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

function stateOf(out: string): { status: string; pid: number } {
  return JSON.parse(out);
}

async function pidOf(id: string): Promise<number> {
  const s = await runts(["state", id], { root });
  assertEquals(s.code, 0, s.stderr);
  return stateOf(s.stdout).pid;
}

/** "dev:ino" of a path (following symlinks and magic links), as `stat -L -c %d:%i` prints. */
async function devIno(path: string): Promise<string> {
  const st = await Deno.stat(path);
  return `${st.dev}:${st.ino}`;
}

/** Mount points in the host's mountinfo at or under prefix. */
async function hostMountsUnder(prefix: string): Promise<string[]> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").map((l) => l.split(" ")[4] ?? "").filter((p) =>
    p === prefix || p.startsWith(prefix + "/")
  );
}

/** Read-only mounts in the host's mountinfo at or under prefix. */
async function hostRoMountsUnder(prefix: string): Promise<string[]> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").filter((l) => {
    const f = l.split(" ");
    const p = f[4] ?? "";
    return (p === prefix || p.startsWith(prefix + "/")) && (f[5] ?? "").split(",").includes("ro");
  });
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

// ---- CVE-2019-5736: the runtime's binary through /proc/<pid>/exe ----

Deno.test({
  name: "CVE-2019-5736 class: a created init (still the runtime's clone) is not dumpable",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: ["sleep", "60"],
      mutate(s) {
        s.process.user = { uid: 1000, gid: 1000 };
      },
    });
    const id = "esc-5736-created";
    let control: Deno.ChildProcess | undefined;
    try {
      const c = await runts(["create", "-b", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const pid = await pidOf(id);
      // Until start the init is the runtime's clone: its exe is the runtime's binary, and it
      // already runs as the container's user.
      const exe = await Deno.readLink(`/proc/${pid}/exe`);
      assert(!exe.endsWith("busybox"), exe);
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      assertStringIncludes(status, "\nUid:\t1000\t1000\t1000\t1000\n");

      // The same uid on the host cannot reach it (a dumpable process of that uid can be).
      control = new Deno.Command("setpriv", {
        args: ["--reuid=1000", "--regid=1000", "--clear-groups", "sleep", "60"],
        stdin: "null",
      }).spawn();
      // Polled until setpriv has exec'd sleep (no fixed sleep).
      const controlExe = () => Deno.readLinkSync(`/proc/${control!.pid}/exe`);
      for (let i = 0; i < 600 && !controlExe().endsWith("sleep"); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const ok = await host("readlink", [`/proc/${control.pid}/exe`], 1000);
      assertEquals([ok.code, ok.stdout.trim().endsWith("sleep")], [0, true], ok.stderr);
      for (
        const args of [["readlink", "-v", `/proc/${pid}/exe`], ["head", "-c1", `/proc/${pid}/exe`]]
      ) {
        const r = await host(args[0]!, args.slice(1), 1000);
        assertEquals([r.code, r.stdout], [1, ""], `${args.join(" ")}: ${r.stderr}`);
        assertStringIncludes(r.stderr, "Permission denied");
      }
      const fds = await host("ls", [`/proc/${pid}/fd`], 1000);
      assertStringIncludes(fds.stderr, "Permission denied");

      // Nor can a process exec'd into the container (root there, without CAP_SYS_PTRACE).
      const e = await runts([
        "exec",
        id,
        "sh",
        "-c",
        "readlink -v /proc/1/exe; echo rc=$?; head -c1 /proc/1/exe; echo rc=$?; ls /proc/1/fd/3/; echo rc=$?",
      ], { root });
      assertEquals(e.stdout, "rc=1\nrc=1\nrc=1\n");
      assertEquals(e.code, 0, e.stderr);
      assertEquals(
        e.stderr,
        "readlink: /proc/1/exe: cannot read link: Permission denied\n" +
          "head: /proc/1/exe: Permission denied\nls: /proc/1/fd/3/: Permission denied\n",
      );

      // After start, the container's process is the image's binary.
      assertEquals((await runts(["start", id], { root })).code, 0);
      assertEquals(await devIno(`/proc/${pid}/exe`), await devIno(`${ROOTFS}/bin/busybox`));
      const after = await runts(["exec", id, "readlink", "/proc/1/exe"], { root });
      assertEquals([after.stdout, after.stderr, after.code], ["/bin/busybox\n", "", 0]);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      try {
        control?.kill("SIGKILL");
      } catch {
        // exited
      }
      await control?.status;
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "CVE-2019-5736 class: processes starting through runts exec are never readable",
  ...opts,
  async fn() {
    // The container samples every /proc/<pid>/exe it may read while the host starts 10 exec
    // processes (each is the runtime's clone until it executes the sealed exec stub).
    const b = await makeBundle({
      args: [
        "sh",
        "-c",
        // Seen may be busybox and the sealed exec stub (a memfd nobody can write), never more.
        "while [ ! -e /dev/shm/stop ]; do for p in /proc/[0-9]*; do readlink $p/exe; done 2>/dev/null | grep -v -e '^/bin/busybox$' -e '^/memfd:runts-exec (deleted)$' >> /dev/shm/hits; done; touch /dev/shm/done; sleep 60",
      ],
    });
    const id = "esc-5736-exec";
    try {
      assertEquals((await runts(["run", "-d", "-b", b.dir, id], { root })).code, 0);
      for (let i = 0; i < 10; i++) {
        const e = await runts(["exec", id, "true"], { root });
        assertEquals([e.code, e.stderr], [0, ""]);
      }
      const r = await runts([
        "exec",
        id,
        "sh",
        "-c",
        "touch /dev/shm/stop; while [ ! -e /dev/shm/done ]; do sleep 0.1; done; cat /dev/shm/hits",
      ], { root, timeoutMs: 30_000 });
      assertEquals([r.stdout, r.stderr, r.code], ["", "", 0]);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

/** The host's runtime binary (what the sandbox process and the init clone run). */
const RUNTIME_BINARY = Deno.realPathSync(`${REPO}/.deno/bin/deno`);

/** Copies the runtime binary's ELF interpreter and libraries into rootfs (as an image could). */
async function addRuntimeLibs(rootfs: string): Promise<void> {
  const ldd = await host("ldd", [RUNTIME_BINARY]);
  assertEquals(ldd.code, 0, ldd.stderr);
  for (const m of ldd.stdout.matchAll(/(\/\S+)/g)) {
    const lib = m[1]!;
    const dest = `${rootfs}${lib}`;
    await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(await Deno.realPath(lib), dest);
  }
}

Deno.test({
  name: "CVE-2019-5736 class: exec of /proc/self/exe does not run the host's runtime binary",
  ...opts,
  async fn() {
    // Were the host's runtime binary run, it would print this (its libraries are in the rootfs).
    const say = "console.log('the host runtime ran')";
    const b = await makeBundle({
      copyRootfs: true,
      args: ["/proc/self/exe", "eval", say],
      mutate(s) {
        s.process.env.push("HOME=/tmp");
      },
    });
    const id = "esc-5736-selfexe";
    try {
      await addRuntimeLibs(`${b.dir}/rootfs`);
      // The init, in the foreground: its output and exit status are the facts (no timing). The
      // execve of /proc/self/exe fails (127) instead of reaching the runtime's binary.
      const fg = await runts(["run", "-b", b.dir, id], { root });
      // (no stderr either: a dynamic loader that ran the host's binary would also exit 127)
      assertEquals([fg.code, fg.stdout, fg.stderr], [127, "", ""]);
      // The same through runts exec, into a container whose init runs until it is deleted.
      const config = `${b.dir}/config.json`;
      const spec = JSON.parse(await Deno.readTextFile(config));
      spec.process.args = ["sleep", "3600"];
      await Deno.writeTextFile(config, JSON.stringify(spec));
      const c = await runts(["run", "-d", "-b", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const e = await runts(["exec", id, "/proc/self/exe", "eval", say], { root });
      assertEquals([e.code, e.stdout, e.stderr], [127, "", ""]);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

// ---- CVE-2024-21626: leaked fds ----

Deno.test({
  name: "CVE-2024-21626 class: a created init holds no fd of a host directory",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "60"] });
    const id = "esc-21626-fds";
    try {
      const c = await runts(["create", "-b", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const pid = await pidOf(id);
      // Directories the runtime knows on the host: none may be open in the init.
      const hostDirs = ["/", "/sys/fs/cgroup", "/proc", "/sys", "/tmp", "/dev", REPO, b.dir, root];
      hostDirs.push(ROOTFS.slice(0, ROOTFS.lastIndexOf("/")));
      const forbidden = new Map<string, string>();
      for (const d of hostDirs) forbidden.set(await devIno(d), d);
      const open: string[] = [];
      for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
        const st = await Deno.stat(`/proc/${pid}/fd/${e.name}`).catch(() => null);
        if (st === null || !st.isDirectory) continue;
        const hit = forbidden.get(`${st.dev}:${st.ino}`);
        if (hit !== undefined) open.push(`${e.name} -> ${hit}`);
      }
      assertEquals(open, []);
      // And the container cannot use the init's fds before start.
      const e = await runts(["exec", id, "ls", "/proc/1/fd/3/"], { root });
      assertEquals([e.stdout, e.stderr], ["", "ls: /proc/1/fd/3/: Permission denied\n"]);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

/** Goes up from the cwd far enough to leave any rootfs: prints `.` and `/` (equal inside). */
const CLIMB = "cd ../../../../../../../../..; stat -c %d:%i . /";

Deno.test({
  name: "CVE-2024-21626 class: process.cwd /proc/self/fd/N never starts outside the rootfs",
  ...opts,
  async fn() {
    const fds = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 30, 63, 64, 65, 66, 67, 68, 69, 70];
    const outside: string[] = [];
    for (const n of fds) {
      const b = await makeBundle({
        args: ["sh", "-c", CLIMB],
        mutate: (s: BundleSpec) => (s.process.cwd = `/proc/self/fd/${n}`),
      });
      try {
        const r = await runts(["run", "-b", b.dir, `esc-21626-cwd-${n}`], { root });
        if (r.code !== 0) continue; // refused (ENOTDIR, ENOENT...): nothing ran
        const [dot, slash] = r.stdout.trim().split("\n");
        if (dot !== slash) outside.push(`fd ${n}: ${r.stdout}`);
      } finally {
        await b.cleanup();
      }
    }
    assertEquals(outside, []);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "CVE-2024-21626 class: runts exec --cwd /proc/self/fd/N; exec'd processes get 0-2 only",
  ...opts,
  async fn() {
    const b = await makeBundle({ args: ["sleep", "60"] });
    const id = "esc-21626-exec";
    try {
      assertEquals((await runts(["run", "-d", "-b", b.dir, id], { root })).code, 0);
      const outside: string[] = [];
      for (const n of [3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 63, 64, 65, 66, 67, 68]) {
        const r = await runts(["exec", "--cwd", `/proc/self/fd/${n}`, id, "sh", "-c", CLIMB], {
          root,
        });
        if (r.code !== 0) continue;
        const [dot, slash] = r.stdout.trim().split("\n");
        if (dot !== slash) outside.push(`fd ${n}: ${r.stdout}`);
      }
      assertEquals(outside, []);
      // fd 3 is the directory ls reads; the init (sleep) has only 0, 1 and 2
      const e = await runts([
        "exec",
        id,
        "sh",
        "-c",
        "ls /proc/self/fd | tr '\\n' ' '; echo; ls /proc/1/fd | tr '\\n' ' '; echo; readlink /proc/self/cwd",
      ], { root });
      assertEquals([e.stdout, e.stderr, e.code], ["0 1 2 3 \n0 1 2 \n/\n", "", 0]);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

/** Runs `runts --root root ...args` from sh with fds 3, 4 and 5 open on the given files. */
async function withFds(files: string[], args: string[]): Promise<Run> {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const script = `exec 3<${q(files[0]!)} 4<${q(files[1]!)} 5<${q(files[2]!)}; exec ${
    [RUNTS_BIN, "--root", root, ...args].map(q).join(" ")
  }`;
  return await host("/bin/sh", ["-c", script]);
}

Deno.test({
  name: "CVE-2024-21626 class: --preserve-fds 2 passes exactly fds 3 and 4 (run and exec)",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-fds-" });
    const files = ["a", "b", "c"].map((n) => `${dir}/${n}`);
    for (const f of files) await Deno.writeTextFile(f, `content-${f.slice(-1)}\n`);
    const script = "ls /proc/self/fd | tr '\\n' ' '; echo; cat <&3; cat <&4; cat <&5";
    const b = await makeBundle({ args: ["sh", "-c", script] });
    const s = await makeBundle({ args: ["sleep", "60"] });
    const id = "esc-preserve-exec";
    try {
      // ls's own directory fd is 5: the third file (fd 5 outside) does not come in
      const r = await withFds(files, ["run", "--preserve-fds", "2", "-b", b.dir, "esc-preserve"]);
      assertEquals(r.stdout, "0 1 2 3 4 5 \ncontent-a\ncontent-b\n");
      assertEquals(r.stderr, "sh: 5: Bad file descriptor\n");
      assertEquals(r.code, 1);

      assertEquals((await runts(["run", "-d", "-b", s.dir, id], { root })).code, 0);
      const e = await withFds(files, ["exec", "--preserve-fds", "2", id, "sh", "-c", script]);
      assertEquals(
        [e.stdout, e.stderr, e.code],
        ["0 1 2 3 4 5 \ncontent-a\ncontent-b\n", "sh: 5: Bad file descriptor\n", 1],
      );
      // Without the flag nothing but stdio comes in.
      const none = await withFds(files, [
        "exec",
        id,
        "sh",
        "-c",
        "ls /proc/self/fd | tr '\\n' ' '",
      ]);
      assertEquals([none.stdout, none.stderr, none.code], ["0 1 2 3 ", "", 0]);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      await s.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- CVE-2021-30465: mount targets swapped for symlinks ----

/** Script printing where the mount with source `source` landed in the container. */
const whereMounted = (source: string) => `awk '$9 == "${source}" {print $5}' /proc/self/mountinfo`;

Deno.test({
  name: "CVE-2021-30465 class: a relative symlink climbing out of the rootfs stays inside",
  ...opts,
  async fn() {
    const hostDir = await Deno.makeTempDir({ prefix: "runts-evil-" });
    await Deno.writeTextFile(`${hostDir}/keep`, "untouched\n");
    try {
      for (const present of [true, false]) {
        const b = await makeBundle({
          copyRootfs: true,
          args: ["sh", "-c", `echo x > /evil/marker; ${whereMounted("runts-evil-rel")}`],
          mutate(s) {
            s.mounts.push({ destination: "/evil", type: "tmpfs", source: "runts-evil-rel" });
          },
        });
        try {
          // rootfs/etc/evil -> ../../../../../../../../<hostDir>: from the bundle's rootfs that
          // climbs to the host's /; resolved in the rootfs it is <rootfs>/<hostDir>.
          await Deno.symlink(`../../../../../../../..${hostDir}`, `${b.dir}/rootfs/etc/evil`);
          await Deno.symlink("etc/evil", `${b.dir}/rootfs/evil`);
          if (present) await Deno.mkdir(`${b.dir}/rootfs${hostDir}`, { recursive: true });
          const r = await runts(["run", "-b", b.dir, `esc-30465-rel-${present}`], { root });
          assertEquals(names(hostDir), ["keep"]);
          assertEquals(await hostMountsUnder(hostDir), []);
          assertEquals([r.stdout, r.stderr, r.code], [`${hostDir}\n`, "", 0]);
          assertEquals(names(`${b.dir}/rootfs${hostDir}`), []);
          assertEquals(await leftovers(root), NOTHING);
        } finally {
          await b.cleanup();
        }
      }
    } finally {
      await Deno.remove(hostDir, { recursive: true });
    }
  },
});

/** Swaps two paths with renameat2(RENAME_EXCHANGE) in a loop until killed. */
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = (p.encode() for p in sys.argv[1:3])
print("swapping", flush=True)
while True:
    if libc.renameat2(-100, a, -100, b, 2) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")
`;

Deno.test({
  name: "CVE-2021-30465 class: a target swapped with a symlink during create (50 runs)",
  ...opts,
  ignore: opts.ignore || PYTHON === undefined,
  async fn() {
    const hostDir = await Deno.makeTempDir({ prefix: "runts-race-" });
    await Deno.writeTextFile(`${hostDir}/keep`, "untouched\n");
    const b = await makeBundle({
      copyRootfs: true,
      args: ["sh", "-c", whereMounted("runts-race")],
      mutate(s) {
        s.mounts.push({ destination: "/evil/sub", type: "tmpfs", source: "runts-race" });
      },
    });
    const landed = new Map<string, number>();
    try {
      // rootfs/evil flips between a directory (with sub/) and a symlink to the host directory.
      await Deno.mkdir(`${b.dir}/rootfs/evil/sub`, { recursive: true });
      await Deno.symlink(hostDir, `${b.dir}/rootfs/evil-swap`);
      await Deno.mkdir(`${b.dir}/rootfs${hostDir}/sub`, { recursive: true });
      const swapper = new Deno.Command(PYTHON!, {
        args: ["-c", SWAPPER, `${b.dir}/rootfs/evil`, `${b.dir}/rootfs/evil-swap`],
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const out = swapper.stdout.pipeThrough(new TextDecoderStream()).getReader();
      try {
        // the line may come in pieces: its start is enough to know the loop runs
        assert((await out.read()).value?.startsWith("s"), "the swapper did not start");
        for (let i = 0; i < 50; i++) {
          const r = await runts(["run", "-b", b.dir, `esc-30465-race-${i}`], { root });
          // Whatever happened, nothing was mounted on the host and its directory is untouched.
          assertEquals(await hostMountsUnder(hostDir), [], `run ${i}`);
          assertEquals(names(hostDir), ["keep"], `run ${i}`);
          const where = r.code === 0 ? r.stdout.trim() : `failed: ${r.stderr.trim()}`;
          landed.set(where, (landed.get(where) ?? 0) + 1);
        }
      } finally {
        swapper.kill("SIGKILL");
        await swapper.status;
        await out.cancel().catch(() => {});
      }
      // Every successful run mounted inside the rootfs: on /evil/sub, on <hostDir>/sub where the
      // symlink leads inside it, or on the directory the swapper renamed meanwhile.
      const inside = ["/evil/sub", "/evil-swap/sub", `${hostDir}/sub`];
      for (const where of landed.keys()) {
        assert(
          inside.includes(where) || where.startsWith("failed: "),
          `unexpected: ${where} (${JSON.stringify([...landed])})`,
        );
      }
      assert(inside.some((w) => landed.has(w)), JSON.stringify([...landed]));
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
      await Deno.remove(hostDir, { recursive: true });
    }
  },
});

// ---- CVE-2025-31133 / 52565 / 52881: /dev/null and read-only paths swapped ----

/** A bundle whose /dev is the image's own (no tmpfs) with /dev/null replaced by prepare(). */
async function devNullBundle(script: string, maskedPaths: string[]) {
  return await makeBundle({
    copyRootfs: true,
    args: ["sh", "-c", script],
    mutate(s) {
      s.mounts = s.mounts.filter((m) => !m.destination.startsWith("/dev"));
      s.linux.maskedPaths = maskedPaths;
    },
  });
}

const MASK_SCRIPT =
  "stat -c '%n %F %t:%T' /etc/masked.conf; head -c 64 /etc/masked.conf; echo; head -c 64 /proc/timer_list; echo END";

Deno.test({
  name: "CVE-2025-31133 class: /dev/null a symlink to a host file is never bound on a masked path",
  ...opts,
  async fn() {
    const hostDir = await Deno.makeTempDir({ prefix: "runts-shadow-" });
    await Deno.writeTextFile(`${hostDir}/shadow`, "host-secret\n");
    const b = await devNullBundle(MASK_SCRIPT, ["/etc/masked.conf", "/proc/timer_list"]);
    try {
      await Deno.writeTextFile(`${b.dir}/rootfs/etc/masked.conf`, "image-content\n");
      await Deno.remove(`${b.dir}/rootfs/dev/null`).catch(() => {}); // a fresh rootfs has none
      await Deno.symlink(`${hostDir}/shadow`, `${b.dir}/rootfs/dev/null`);
      const r = await runts(["run", "-b", b.dir, "esc-31133-host"], { root, timeoutMs: 20_000 });
      assert(!r.stdout.includes("host-secret"), r.stdout);
      assert(!r.stdout.includes("image-content"), r.stdout);
      if (r.code === 0) {
        assertStringIncludes(r.stdout, "/etc/masked.conf character special file 1:3\n");
      }
      assertEquals(await Deno.readTextFile(`${hostDir}/shadow`), "host-secret\n");
      assertEquals(await hostMountsUnder(hostDir), []);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
      await Deno.remove(hostDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "CVE-2025-31133 class: a /dev/null that is not the null device never masks a path",
  ...opts,
  async fn() {
    const cases: [string, (rootfs: string) => Promise<void>][] = [
      ["regular", async (rootfs) => {
        await Deno.writeTextFile(`${rootfs}/dev/null`, "planted\n");
      }],
      ["symlink", async (rootfs) => {
        await Deno.writeTextFile(`${rootfs}/etc/planted`, "planted\n");
        await Deno.symlink("/etc/planted", `${rootfs}/dev/null`);
      }],
    ];
    for (const [name, plant] of cases) {
      const b = await devNullBundle(MASK_SCRIPT, ["/etc/masked.conf", "/proc/timer_list"]);
      try {
        await Deno.writeTextFile(`${b.dir}/rootfs/etc/masked.conf`, "image-content\n");
        await Deno.remove(`${b.dir}/rootfs/dev/null`).catch(() => {}); // a fresh rootfs has none
        await plant(`${b.dir}/rootfs`);
        const r = await runts(["run", "-b", b.dir, `esc-31133-${name}`], {
          root,
          timeoutMs: 20_000,
        });
        assert(!r.stdout.includes("planted"), `${name}: ${r.stdout}`);
        assert(!r.stdout.includes("image-content"), `${name}: ${r.stdout}`);
        if (r.code === 0) {
          assertStringIncludes(r.stdout, "/etc/masked.conf character special file 1:3\n");
        }
        assertEquals(await leftovers(root), NOTHING);
      } finally {
        await b.cleanup();
      }
    }
  },
});

Deno.test({
  name: "CVE-2025-52881 class: a readonlyPaths symlink to a host path never remounts the host",
  ...opts,
  async fn() {
    const hostDir = await Deno.makeTempDir({ prefix: "runts-ro-" });
    await Deno.writeTextFile(`${hostDir}/keep`, "untouched\n");
    try {
      for (const present of [false, true]) {
        const b = await makeBundle({
          copyRootfs: true,
          args: ["sh", "-c", "touch /ro-link/x && echo wrote"],
          mutate(s) {
            s.linux.readonlyPaths = ["/ro-link", "/proc/sys"];
          },
        });
        try {
          await Deno.symlink(hostDir, `${b.dir}/rootfs/ro-link`);
          if (present) await Deno.mkdir(`${b.dir}/rootfs${hostDir}`, { recursive: true });
          const r = await runts(["run", "-b", b.dir, `esc-52881-ro-${present}`], { root });
          // runts refuses a symlinked read-only path that exists (move_mount onto the link:
          // EINVAL) and skips one whose target is missing; either way the host is untouched.
          assertEquals(await hostRoMountsUnder(hostDir), []);
          assertEquals(await hostMountsUnder(hostDir), []);
          await Deno.writeTextFile(`${hostDir}/w`, "host still writable\n");
          await Deno.remove(`${hostDir}/w`);
          assertEquals(names(hostDir), ["keep"]);
          assert(!r.stdout.includes("wrote") || present, r.stdout);
          assertEquals(await leftovers(root), NOTHING);
        } finally {
          await b.cleanup();
        }
      }
    } finally {
      await Deno.remove(hostDir, { recursive: true });
    }
  },
});

// ---- the control socket ----

/** Connects to the control socket as uid (keeping root's fsuid for the path) and asks. */
const PEER = `
import ctypes, json, os, socket, sys
path, cid, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
if uid != 0:
    libc = ctypes.CDLL(None, use_errno=True)
    os.setgroups([])
    os.setresgid(uid, uid, 0)
    os.setresuid(uid, uid, 0)
    # The socket is 0600 in a 0700 directory: pass the path checks as root (fsuid), while
    # SO_PEERCRED reports the euid.
    libc.setfsgid(0)
    libc.setfsuid(0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(path)
print("connected as", os.geteuid(), flush=True)
try:
    s.send(json.dumps({"id": 1, "method": "containerManager.Processes", "arg": {"id": cid}}).encode())
    data = s.recv(1 << 16)
    print("reply" if data else "closed", flush=True)
except OSError as e:
    print("closed", type(e).__name__, flush=True)
`;

Deno.test({
  name: "control socket: root gets a reply, a non-root peer is closed unanswered; 0700/0600",
  ...opts,
  ignore: opts.ignore || PYTHON === undefined,
  async fn() {
    const parent = await Deno.makeTempDir({ prefix: "runts-sockroot-" });
    const stateRoot = `${parent}/state`; // runts creates it
    const b = await makeBundle({ args: ["sleep", "60"] });
    const id = "esc-socket";
    try {
      const c = await runts(["run", "-d", "-b", b.dir, id], { root: stateRoot });
      assertEquals([c.code, c.stderr], [0, ""]);
      const mode = async (p: string) => ((await Deno.lstat(p)).mode ?? 0) & 0o7777;
      assertEquals(await mode(stateRoot), 0o700);
      assertEquals(await mode(`${stateRoot}/${id}`), 0o700);
      const sock = `${stateRoot}/${id}/sock`;
      assert((await Deno.lstat(sock)).isSocket, sock);
      assertEquals(await mode(sock), 0o600);
      for (const e of Deno.readDirSync(`${stateRoot}/${id}`)) {
        const m = await mode(`${stateRoot}/${id}/${e.name}`);
        assertEquals(m & 0o077, 0, `${e.name} is ${m.toString(8)}`);
      }

      const asRoot = await host(PYTHON!, ["-c", PEER, sock, id, "0"]);
      assertEquals([asRoot.stdout, asRoot.stderr], ["connected as 0\nreply\n", ""]);
      const asNobody = await host(PYTHON!, ["-c", PEER, sock, id, "65534"]);
      assertEquals(asNobody.stderr, "");
      assertEquals(asNobody.stdout.split("\n")[0], "connected as 65534");
      assert(asNobody.stdout.includes("closed") && !asNobody.stdout.includes("reply"));
      // Plainly as nobody the path alone refuses it.
      const plain = await host(PYTHON!, ["-c", PEER, sock, id, "0"], 65534);
      assertEquals(plain.code, 1);
      assertStringIncludes(plain.stderr, "PermissionError");
      // The sandbox process still serves root afterwards.
      assertEquals((await runts(["state", id], { root: stateRoot })).code, 0);
      assertEquals((await runts(["delete", "--force", id], { root: stateRoot })).code, 0);
      assertEquals(await leftovers(stateRoot), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root: stateRoot });
      await b.cleanup();
      await Deno.remove(parent, { recursive: true });
    }
  },
});
