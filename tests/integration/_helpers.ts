/**
 * Helpers for the integration tests (root only): bundles on the shared busybox rootfs, running
 * `bin/runts` with a per-file state root, and finding what a test left behind.
 *
 * The rootfs is built by scripts/rootfs.sh (scripts/test.sh does it and sets RUNTS_TEST_ROOTFS);
 * bundles reference it by absolute path, so making one costs a temp dir and a config.json.
 * @module
 */
import { fileURLToPath } from "node:url";
import type { Linux, LinuxNamespace, Mount, Process, Root, Spec } from "../../src/oci/spec.ts";

/** The repository's root directory. */
export const REPO: string = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** The `bin/runts` wrapper the tests run (deno run on main.ts). */
export const RUNTS_BIN: string = `${REPO}/bin/runts`;

/** The shared busybox rootfs (RUNTS_TEST_ROOTFS, else build/bundle/rootfs). */
export const ROOTFS: string = Deno.env.get("RUNTS_TEST_ROOTFS") ?? `${REPO}/build/bundle/rootfs`;

/** A config.json as makeBundle writes it: the parts tests mutate are present. */
export type BundleSpec = Spec & {
  process: Process & { args: string[]; env: string[] };
  root: Root;
  mounts: Mount[];
  linux: Linux & { namespaces: LinuxNamespace[] };
};

/** Options of makeBundle. */
export interface BundleOptions {
  /** process.args of the container. */
  args: string[];
  /** Changes the spec before it is written. */
  mutate?: (spec: BundleSpec) => void;
  /** Copy the rootfs into the bundle (as `rootfs`, referenced relatively) instead of sharing. */
  copyRootfs?: boolean;
}

/** A bundle directory; cleanup() removes it (never through a mount). */
export interface Bundle {
  /** Absolute path of the bundle directory. */
  dir: string;
  /** Removes the bundle directory. */
  cleanup(): Promise<void>;
}

/** Environment variable makeBundle adds to process.env: the bundle's directory. */
export const MARKER = "RUNTS_TEST_BUNDLE";

/** Every bundle and root made here, so leftovers() can look for mounts and processes on them. */
const made: string[] = [];

/** Docker's (and runc spec's) default capabilities: 0xa80425fb. */
export const DOCKER_CAPS: string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** A spec like `runc spec`'s, with terminal off and the given args, on the shared rootfs. */
export function baseSpec(args: string[], rootPath: string = ROOTFS): BundleSpec {
  const caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
  return {
    ociVersion: "1.2.0",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
      cwd: "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: rootPath, readonly: false },
    hostname: "runts",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      {
        destination: "/dev/mqueue",
        type: "mqueue",
        source: "mqueue",
        options: ["nosuid", "noexec", "nodev"],
      },
      {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: ["nosuid", "noexec", "nodev", "ro"],
      },
    ],
    linux: {
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
      ],
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

/** Lines of /proc/self/mountinfo whose mount point or root is under `path`. */
async function mountsUnder(path: string): Promise<string[]> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").filter((l) => {
    const f = l.split(" ");
    return [f[3], f[4]].some((p) => p !== undefined && (p === path || p.startsWith(path + "/")));
  });
}

/** Creates a bundle directory with config.json (and a rootfs copy with copyRootfs). */
export async function makeBundle(opts: BundleOptions): Promise<Bundle> {
  const dir = await Deno.makeTempDir({ prefix: "runts-bundle-" });
  made.push(dir);
  let rootPath = ROOTFS;
  if (opts.copyRootfs) {
    const cp = await new Deno.Command("/bin/cp", { args: ["-a", ROOTFS, `${dir}/rootfs`] })
      .output();
    if (!cp.success) throw new Error(`cp -a ${ROOTFS}: ${new TextDecoder().decode(cp.stderr)}`);
    rootPath = "rootfs";
  }
  const spec = baseSpec(opts.args, rootPath);
  // Marks the container's processes as this bundle's (leftovers() reads /proc/<pid>/environ):
  // the rootfs is shared, so its path alone does not tell whose container a process is.
  spec.process.env.push(`${MARKER}=${dir}`);
  opts.mutate?.(spec);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(spec, null, 2) + "\n");
  return {
    dir,
    async cleanup() {
      const left = await mountsUnder(dir);
      if (left.length > 0) {
        console.error(`makeBundle: not removing ${dir}, still mounted:\n${left.join("\n")}`);
        return;
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A new empty state directory for `runts --root`; removed when the test file ends. */
export async function newRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "runts-root-" });
  made.push(root);
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(root, { recursive: true });
    } catch {
      // already gone, or something is still in it: leftovers() reports that
    }
  });
  return root;
}

let defaultRoot: Promise<string> | undefined;

/** Options of runts(). */
export interface RuntsOptions {
  /** Written to the command's stdin (otherwise stdin is /dev/null). */
  stdin?: string;
  /** The --root state directory (default: one per test file, made by newRoot()). */
  root?: string;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Kill the command (SIGKILL) after this many milliseconds (default 60000). */
  timeoutMs?: number;
}

/** Result of runts(). */
export interface RuntsResult {
  /** Exit code (128+signal when killed by a signal). */
  code: number;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/** Options of runSh(). */
export interface ShOptions {
  /** Changes the spec before it is written. */
  mutate?: ((spec: BundleSpec) => void) | undefined;
  /** Copy the rootfs into the bundle (implied by prepare). */
  copyRootfs?: boolean | undefined;
  /** Runs with the bundle's directory before the container (implies copyRootfs). */
  prepare?: ((dir: string) => Promise<void>) | undefined;
  /** Flags of `run` before `-b`. */
  runFlags?: string[] | undefined;
}

/** `runts run` of a container whose process is `sh -c script`, in a bundle made for it. */
export async function runSh(
  root: string,
  id: string,
  script: string,
  o: ShOptions = {},
): Promise<RuntsResult> {
  const b = await makeBundle({
    args: ["sh", "-c", script],
    ...(o.mutate ? { mutate: o.mutate } : {}),
    copyRootfs: o.copyRootfs === true || o.prepare !== undefined,
  });
  try {
    await o.prepare?.(b.dir);
    return await runts(["run", ...(o.runFlags ?? []), "-b", b.dir, id], { root });
  } finally {
    await b.cleanup();
  }
}

/**
 * Runs `bin/runts --root <root> ...args` and collects its output. Processes the command leaves
 * running (a created container, a sandbox process) inherit its stdout and stderr, as with runc,
 * so reading stops shortly after the command itself exits instead of waiting for EOF.
 */
export async function runts(args: string[], opts: RuntsOptions = {}): Promise<RuntsResult> {
  const root = opts.root ?? await (defaultRoot ??= newRoot());
  const child = new Deno.Command(RUNTS_BIN, {
    args: ["--root", root, ...args],
    env: opts.env ?? {},
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
    await Promise.race([reading, new Promise((r) => grace = setTimeout(r, 200))]);
    await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
    await reading;
    const dec = new TextDecoder();
    const text = (parts: Uint8Array[]) => dec.decode(concat(parts));
    let stderr = text(chunks[1]!);
    if (timedOut) stderr += `\n[runts ${args.join(" ")}: killed after ${timeoutMs} ms]\n`;
    const code = status.signal === null ? status.code : 128 + signalNumber(status.signal);
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

function signalNumber(sig: Deno.Signal): number {
  const nums: Partial<Record<Deno.Signal, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGABRT: 6,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGALRM: 14,
    SIGTERM: 15,
  };
  return nums[sig] ?? 0;
}

/**
 * True for a spare sandbox process (`... --root R boot --spare=PATH`) that still waits for a
 * create: its socket is PATH or `R/.spare-<pid>-...`.
 */
function waitingSpare(pid: number, cmdline: string): boolean {
  const argv = cmdline.split(" ");
  const spare = argv.find((a) => a.startsWith("--spare="));
  const root = argv[argv.indexOf("--root") + 1];
  if (spare === undefined || root === undefined) return false;
  try {
    Deno.statSync(spare.slice("--spare=".length));
    return true;
  } catch {
    // named, or adopted
  }
  try {
    return [...Deno.readDirSync(root)].some((e) => e.name.startsWith(`.spare-${pid}-`));
  } catch {
    return false;
  }
}

/** What is left of containers: state dirs under root, mounts and processes on test paths. */
export interface Leftovers {
  /** Directories under the state root (one per container still known). */
  dirs: string[];
  /** /proc/self/mountinfo lines under the root, the shared rootfs or any bundle made here. */
  mounts: string[];
  /** `pid cmdline` of processes of those containers or runts commands (see leftovers()). */
  processes: string[];
}

/**
 * Lists what is left behind: for "nothing left after delete/run" assertions. Paths looked at:
 * `root`, every bundle and root made by this module, the shared rootfs, and `extra`.
 */
export async function leftovers(root: string, extra: string[] = []): Promise<Leftovers> {
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir(root)) if (e.isDirectory) dirs.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  dirs.sort();

  const paths = [...new Set([root, ROOTFS, ...made, ...extra])];
  const mounts: string[] = [];
  for (const p of paths) {
    for (const l of await mountsUnder(p)) if (!mounts.includes(l)) mounts.push(l);
  }

  // A process is left over when its command line names one of those paths (runts itself, the
  // sandbox process) or its environment has the MARKER of a bundle made here (a container's
  // processes: /proc/<pid>/root reads "/" from outside their mount tree, and other runs may use
  // the shared rootfs meanwhile).
  const processes: string[] = [];
  const own = [root, ...made, ...extra];
  const under = (s: string) => own.some((p) => s === p || s.startsWith(p + "/"));
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const proc = `/proc/${e.name}`;
    let cmdline: string;
    try {
      cmdline = (await Deno.readTextFile(`${proc}/cmdline`)).replaceAll("\0", " ").trim();
    } catch {
      continue; // exited meanwhile
    }
    // A spare sandbox process waiting for the next create of its --root is no container's and
    // exits by itself (spare_test.ts checks that); once adopted it is a sandbox process like
    // another (and its command line reads `boot <id>`).
    if (waitingSpare(Number(e.name), cmdline)) continue;
    let hit = cmdline.split(" ").some(under);
    if (!hit) {
      const env = await Deno.readTextFile(`${proc}/environ`).catch(() => "");
      hit = env.split("\0").some((kv) =>
        kv.startsWith(`${MARKER}=`) && made.includes(kv.slice(MARKER.length + 1))
      );
    }
    if (hit) processes.push(`${e.name} ${cmdline}`);
  }
  return { dirs, mounts, processes };
}

/** True when `path` exists (symbolic links followed). */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** This host's python3 (seccomp agents in tests are python scripts); undefined without one. */
export const PYTHON: string | undefined = ["/usr/bin/python3", "/usr/local/bin/python3"].find(
  exists,
);
if (PYTHON === undefined) console.log("no python3 on this host: the tests that use it are ignored");

/** Polls `cond` (every 20 ms) until it holds; fails naming `what` after `ms`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 60_000,
): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The init's program as a sandbox process started with `--debug` logged it: the `init plan: …`
 * lines of its log (runc's form: time="..." level=debug msg="init plan: ..."), steps only.
 */
export function loggedInitPlan(logPath: string): string[] {
  return Deno.readTextFileSync(logPath).split("\n")
    .map((l) => /level=debug msg=(".*")$/.exec(l)?.[1])
    .filter((m): m is string => m !== undefined)
    .map((m) => JSON.parse(m) as string)
    .filter((m) => m.startsWith("init plan: "))
    .map((m) => m.slice("init plan: ".length));
}
