/**
 * Shared helpers of the end-to-end tests that drive runts through real clients installed from
 * Debian (docker.io, podman + conmon, containerd): installing the packages when they are missing,
 * a temporary directory per test holding every root/state/socket of the clients, starting and
 * stopping daemons, the busybox rootfs as a tarball, and finding what was left behind.
 *
 * Nothing here touches the host network: dockerd runs without iptables, bridge or userland proxy,
 * podman with `netns = "none"`, ctr containers in empty network namespaces.
 *
 * `RUNTS_E2E_TRACE=<file>` puts a wrapper between the clients and bin/runts that appends each
 * call's argv, cwd, environment and exit status to <file> (and copies the bundle's config.json at
 * `create` to `<file>.<pid>.config.json`): the way to find out which runtime call a client fails on.
 * `RUNTS_E2E_ALL=1` also runs the steps that are ignored as known to fail.
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository's root directory. */
export const REPO: string = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** The `bin/runts` wrapper: what the clients are given as the runtime. */
export const RUNTS_BIN: string = `${REPO}/bin/runts`;

/** The shared busybox rootfs (RUNTS_TEST_ROOTFS, else build/bundle/rootfs). */
export const ROOTFS: string = Deno.env.get("RUNTS_TEST_ROOTFS") ?? `${REPO}/build/bundle/rootfs`;

/**
 * The `ignore` of steps known to fail (a `// BUG:` or `// PENDING cgroups` comment says why):
 * true, unless RUNTS_E2E_ALL=1 asks to run them too (to see whether a fix works).
 */
export const KNOWN_BROKEN: boolean = false;

/** Result of a command. */
export interface Result {
  /** Exit code (128+signal when killed by a signal). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of run(). */
export interface RunOptions {
  /** Written to stdin, which is then closed (otherwise stdin is /dev/null). */
  stdin?: string;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** SIGKILL after this many milliseconds (default 60000). */
  timeoutMs?: number;
}

const SIGNALS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/**
 * Runs a command and collects its output. Reading stops shortly after the command exits, so a
 * daemon or container that inherited its stdout does not hold the call.
 */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<Result> {
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env ?? {},
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const chunks: Uint8Array[][] = [[], []];
  const reading = Promise.all(readers.map(async (r, i) => {
    try {
      for (;;) {
        const { done, value } = await r.read();
        if (done) return;
        chunks[i]!.push(value);
      }
    } catch {
      // cancelled below
    }
  }));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, timeoutMs);
  let grace: ReturnType<typeof setTimeout> | undefined;
  try {
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
      await w.close().catch(() => {});
    }
    const status = await child.status;
    await Promise.race([reading, new Promise((r) => grace = setTimeout(r, 300))]);
    await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
    await reading;
    const dec = new TextDecoder();
    const text = (parts: Uint8Array[]) => dec.decode(concat(parts));
    let stderr = text(chunks[1]!);
    if (timedOut) stderr += `\n[${cmd} ${args.join(" ")}: killed after ${timeoutMs} ms]\n`;
    const code = status.signal === null ? status.code : 128 + (SIGNALS[status.signal] ?? 0);
    return { code, stdout: text(chunks[0]!), stderr };
  } finally {
    clearTimeout(timer);
    clearTimeout(grace);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A one-line description of a result, for assertion messages. */
export function show(what: string, r: Result): string {
  return `${what}: exit ${r.code}\nstdout: ${r.stdout.trim()}\nstderr: ${r.stderr.trim()}`;
}

/** Throws with the command's output unless it exited 0; returns its stdout. */
export function ok(what: string, r: Result): string {
  if (r.code !== 0) throw new Error(show(what, r));
  return r.stdout;
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls fn until it returns a value other than undefined, or throws after timeoutMs. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}` +
          (last === undefined ? "" : `: ${(last as Error).message ?? last}`),
      );
    }
    await sleep(100);
  }
}

/** Whether a Debian package is installed. */
async function installed(pkg: string): Promise<boolean> {
  const r = await run("/usr/bin/dpkg-query", ["-W", "-f=${Status}", pkg]).catch(() => undefined);
  return r !== undefined && r.code === 0 && r.stdout.trim() === "install ok installed";
}

/**
 * Why the e2e test of a client cannot run, or undefined when it can: needs root, and the Debian
 * packages `pkgs` (installed with apt-get when missing; apt-get update first only when the
 * install fails) and the executables `bins`. Prints the reason when there is one.
 */
export async function prepare(
  client: string,
  pkgs: string[],
  bins: string[],
): Promise<string | undefined> {
  const reason = await whyNot(pkgs, bins);
  if (reason !== undefined) console.log(`e2e ${client}: skipped: ${reason}`);
  return reason;
}

async function whyNot(pkgs: string[], bins: string[]): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "Linux only";
  if (Deno.uid() !== 0) return "needs root";
  const missing: string[] = [];
  for (const p of pkgs) if (!(await installed(p))) missing.push(p);
  if (missing.length > 0) {
    const env = { DEBIAN_FRONTEND: "noninteractive", PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
    const args = ["install", "-y", "--no-install-recommends", ...missing];
    console.log(`e2e: apt-get ${args.join(" ")}`);
    let r = await run("/usr/bin/apt-get", args, { env, timeoutMs: 900_000 });
    if (r.code !== 0) {
      await run("/usr/bin/apt-get", ["update"], { env, timeoutMs: 600_000 });
      r = await run("/usr/bin/apt-get", args, { env, timeoutMs: 900_000 });
    }
    if (r.code !== 0) {
      const tail = r.stderr.trim().split("\n").slice(-3).join(" | ");
      return `apt-get install ${missing.join(" ")} failed (exit ${r.code}): ${tail}`;
    }
  }
  for (const b of bins) {
    try {
      await Deno.stat(b);
    } catch {
      return `${b} is missing after installing ${pkgs.join(" ")}`;
    }
  }
  try {
    await Deno.stat(`${ROOTFS}/bin/busybox`);
  } catch {
    const r = await run("/bin/bash", [
      `${REPO}/scripts/rootfs.sh`,
      ROOTFS.replace(/\/rootfs$/, ""),
    ]);
    if (r.code !== 0) return `no busybox rootfs at ${ROOTFS}: ${r.stderr.trim()}`;
  }
  return undefined;
}

/** A temporary directory for one client's roots, sockets and logs. */
export async function tempDir(client: string): Promise<string> {
  // Short: unix socket paths (containerd's shim and ttrpc sockets) must fit in 108 bytes.
  return await Deno.makeTempDir({ dir: "/tmp", prefix: `runts-e2e-${client}-` });
}

/** Writes `dir/rootfs.tar`, the shared busybox rootfs as a tarball (what `docker import` takes). */
export async function rootfsTarball(dir: string): Promise<string> {
  const tar = `${dir}/rootfs.tar`;
  ok("tar", await run("/bin/tar", ["-C", ROOTFS, "--numeric-owner", "-cf", tar, "."]));
  return tar;
}

/**
 * The runtime path to give the clients: bin/runts, or with RUNTS_E2E_TRACE set a wrapper in dir
 * that logs each call (argv, cwd, env, exit status) to that file. The wrapper is named `runts`
 * (conmon adds global flags for some runtime names only) and uses absolute paths only (podman's
 * cleanup runs the runtime with no PATH). It never redirects the runtime's stdio: those are the
 * container's.
 */
export async function runtimePath(dir: string): Promise<string> {
  const log = Deno.env.get("RUNTS_E2E_TRACE");
  if (!log) return RUNTS_BIN;
  await Deno.mkdir(`${dir}/trace`, { recursive: true });
  const path = `${dir}/trace/runts`;
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
# Written by tests/e2e/_clients.ts (RUNTS_E2E_TRACE): logs each call, then runs bin/runts.
log=${q(log)}
echo "[$$] $(/bin/date +%T.%N) cwd=$PWD argv: $*" >>"$log"
echo "[$$] env: $(/usr/bin/env | /usr/bin/tr '\\n' ' ')" >>"$log"
bundle=
logfile=
cmd=
prev=
for a in "$@"; do
  case $prev in --bundle | -b) bundle=$a ;; --log) logfile=$a ;; esac
  case $a in
    --bundle=*) bundle=\${a#--bundle=} ;;
    --log=*) logfile=\${a#--log=} ;;
    create | run | exec | start | delete | kill | ps | state | pause | resume | update | events)
      [ -n "$cmd" ] || cmd=$a
      ;;
  esac
  prev=$a
done
if [ "$cmd" = create ]; then
  [ -n "$bundle" ] || bundle=$PWD
  /bin/cp "$bundle/config.json" "$log.$$.config.json" 2>/dev/null
fi
case $cmd in
  create | run | exec)
    # stdio are the container's: left alone
    ${q(RUNTS_BIN)} "$@"
    rc=$?
    ;;
  *)
    ${q(RUNTS_BIN)} "$@" 2>"$log.$$.stderr"
    rc=$?
    while IFS= read -r l; do
      echo "$l" >&2
      echo "[$$] stderr: $l" >>"$log"
    done <"$log.$$.stderr"
    /bin/rm -f "$log.$$.stderr"
    ;;
esac
if [ $rc -ne 0 ] && [ -n "$logfile" ] && [ -f "$logfile" ]; then
  while IFS= read -r l; do last=$l; done <"$logfile"
  echo "[$$] last --log line: $last" >>"$log"
fi
echo "[$$] rc=$rc" >>"$log"
exit $rc
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/** Lines of /proc/self/mountinfo whose mount point is under `path`, deepest last. */
export async function mountsUnder(path: string): Promise<string[]> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").filter((l) => {
    const p = l.split(" ")[4];
    return p !== undefined && (p === path || p.startsWith(path + "/"));
  });
}

/** `pid cmdline` of every process (other than this one) naming `mark` in its argv or env. */
export async function processesWith(mark: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    let cmdline: string;
    try {
      cmdline = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).replaceAll("\0", " ").trim();
    } catch {
      continue; // exited meanwhile
    }
    if (cmdline === "") continue; // a kernel thread or a zombie
    const env = await Deno.readTextFile(`/proc/${e.name}/environ`).catch(() => "");
    if (cmdline.includes(mark) || env.includes(mark)) out.push(`${e.name} ${cmdline}`);
  }
  return out;
}

/** Whether a process exists (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after graceMs; waits for the process to be gone. */
export async function terminate(pid: number, graceMs = 15_000): Promise<void> {
  if (!alive(pid)) return;
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const end = Date.now() + graceMs;
  while (alive(pid) && Date.now() < end) await sleep(100);
  if (!alive(pid)) return;
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  while (alive(pid)) await sleep(50);
}

/**
 * SIGKILLs every process naming `mark` in its argv or environment (and removes the sockets of
 * the containerd shims among them).
 */
export async function killAllWith(mark: string): Promise<string[]> {
  const procs = await processesWith(mark);
  for (const p of procs) {
    try {
      Deno.kill(Number(p.split(" ")[0]), "SIGKILL");
    } catch {
      // gone
    }
  }
  if (procs.length > 0) await sleep(300);
  for (const p of procs) if (p.includes("containerd-shim")) await removeShimSocket(p);
  return procs;
}

/** Unmounts everything under path, deepest first (lazily when busy). */
export async function unmountAll(path: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mounts = (await mountsUnder(path)).map((l) => l.split(" ")[4]!);
    if (mounts.length === 0) return;
    for (const m of mounts.reverse()) {
      const target = m.replace(/\\040/g, " ");
      const r = await run("/bin/umount", [target]);
      if (r.code !== 0) await run("/bin/umount", ["-l", target]);
    }
  }
}

/** Directories directly under `dir` (none when it does not exist). */
export async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** runts `delete --force` of every container left in a state root (cleanup). */
export async function forceDeleteAll(root: string): Promise<string[]> {
  const ids = await entries(root);
  for (const id of ids) {
    await run(RUNTS_BIN, ["--root", root, "delete", "--force", id], { timeoutMs: 20_000 });
  }
  return ids;
}

/**
 * Every cgroup directory named `parent` (e.g. "docker") at the top of a hierarchy (v1
 * controllers, the unified one, or a pure cgroup2 mount) and all below it.
 */
export async function cgroupTree(parent: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    const st = await Deno.stat(dir).catch(() => undefined);
    if (!st?.isDirectory) return;
    out.add(dir);
    // A directory removed while it is read (a shim deleting its cgroup) is not left behind.
    const subdirs: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) if (e.isDirectory) subdirs.push(e.name);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      out.delete(dir);
    }
    for (const name of subdirs) await walk(`${dir}/${name}`);
  };
  await walk(`/sys/fs/cgroup/${parent}`);
  for (const h of await entries("/sys/fs/cgroup")) await walk(`/sys/fs/cgroup/${h}/${parent}`);
  return out;
}

/** The cgroup directories of cgroupTree(parent) that were not in `before`, deepest first. */
export async function newCgroups(parent: string, before: Set<string>): Promise<string[]> {
  return [...await cgroupTree(parent)].filter((d) => !before.has(d)).sort().reverse();
}

/** Removes (rmdir) cgroup directories, deepest first, ignoring failures. */
export async function removeCgroups(dirs: string[]): Promise<void> {
  for (const d of [...dirs].sort().reverse()) await Deno.remove(d).catch(() => {});
}

/**
 * Removes the socket a containerd shim v2 (containerd 1.6) listens on, for a shim that was
 * killed (a shim that exits by itself removes it): /run/containerd/s/sha256(address/ns/id), with
 * the values of the shim's -address, -namespace and -id flags. `shim` is a "pid cmdline" line.
 */
export async function removeShimSocket(shim: string): Promise<void> {
  const flag = (name: string) => shim.match(new RegExp(` -${name} (\\S+)`))?.[1];
  const [address, ns, id] = [flag("address"), flag("namespace"), flag("id")];
  if (!address || !ns || !id) return;
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(`${address}/${ns}/${id}`),
  );
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.remove(`/run/containerd/s/${hex}`).catch(() => {});
}

/**
 * Removes /run/containerd/s and /run/containerd when they are empty and did not exist before
 * (`existed`, from containerdRunDirExists() at the start).
 */
export async function removeContainerdRunDir(existed: boolean): Promise<void> {
  if (existed) return;
  await Deno.remove("/run/containerd/s").catch(() => {});
  await Deno.remove("/run/containerd/fifo").catch(() => {}); // ctr's default --fifo-dir
  await Deno.remove("/run/containerd").catch(() => {});
}

/** Whether /run/containerd exists (containerd's shims put their sockets in /run/containerd/s). */
export async function containerdRunDirExists(): Promise<boolean> {
  return await Deno.stat("/run/containerd").then(() => true, () => false);
}

/** Removes a temp dir of this module: unmounts under it first, never deletes through a mount. */
export async function removeTemp(dir: string): Promise<void> {
  await unmountAll(dir);
  const left = await mountsUnder(dir);
  if (left.length > 0) {
    console.error(`e2e: not removing ${dir}, still mounted:\n${left.join("\n")}`);
    return;
  }
  await Deno.remove(dir, { recursive: true }).catch((e) =>
    console.error(`e2e: removing ${dir}: ${e}`)
  );
}

/** A daemon started in the background, its output appended to a log file. */
export interface Daemon {
  /** Pid of the daemon. */
  pid: number;
  /** The log file. */
  log: string;
  /** The end of the log, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL after graceMs; waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `cmd args` in the background with stdout and stderr appended to `log`. */
export function startDaemon(cmd: string, args: string[], log: string): Daemon {
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", 'exec "$@" >>"$0" 2>&1', log, cmd, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const status = child.status;
  return {
    pid: child.pid,
    log,
    tail(lines = 15) {
      try {
        return Deno.readTextFileSync(log).trim().split("\n").slice(-lines).join("\n");
      } catch {
        return "(no log)";
      }
    },
    async stop(graceMs = 20_000) {
      await terminate(child.pid, graceMs);
      await status;
    },
  };
}

/**
 * The message of a known runts bug that makes client commands fail now and then (see the
 * `// BUG:` comments of the steps "no runts state ... left"): `delete` racing the exit of the
 * sandbox process fails with Deno.kill's "ESRCH: No such process".
 */
export const DELETE_ESRCH = "ESRCH: No such process";

/** Records the commands that failed with a known intermittent bug, for a step to report. */
export class BugHits {
  /** One line per hit: the command and its stderr. */
  readonly hits: string[] = [];

  /** Whether r failed with `message`; records it if so. */
  hit(what: string, r: Result, message: string | RegExp = DELETE_ESRCH): boolean {
    const out = r.stdout + r.stderr;
    if (
      r.code === 0 || !(typeof message === "string" ? out.includes(message) : message.test(out))
    ) {
      return false;
    }
    this.hits.push(`${what}: exit ${r.code}: ${r.stderr.trim().replaceAll("\n", " | ")}`);
    return true;
  }
}
