/**
 * A real non-root user for the rootless tests: made with `useradd -m` (random suffix; Debian's
 * useradd also gives it /etc/subuid and /etc/subgid ranges), an XDG_RUNTIME_DIR of its own,
 * bundles it can read, and `bin/runts` run as it through `setpriv`. `remove()` deletes the user,
 * its home and its subordinate id lines.
 *
 * The user must be able to run bin/runts: the worktree, the Deno binary and the Deno cache are
 * world-readable (root's checkout as made by scripts/setup.sh); Deno only reads the cache, so
 * the user needs no DENO_DIR of its own.
 * @module
 */
import { defaultSpec } from "../../src/oci/default_spec.ts";
import type { Spec } from "../../src/oci/spec.ts";
import { MARKER, ROOTFS, RUNTS_BIN, type RuntsResult } from "./_helpers.ts";

/** A test user. */
export interface TestUser {
  /** Login name (`rl` + random suffix). */
  name: string;
  uid: number;
  gid: number;
  /** Its XDG_RUNTIME_DIR (0700, owned by it). */
  xdg: string;
  /** The first id of its /etc/subuid (and subgid) range, and its size. */
  subStart: number;
  subSize: number;
  /** Removes the user, its home, its runtime dir and its /etc/subuid,subgid lines. */
  remove(): Promise<void>;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(out.stderr).trim()}`);
  }
  return dec.decode(out.stdout);
}

/** Why the host cannot run the rootless tests, or undefined when it can. */
export function rootlessUnavailable(): string | undefined {
  if (Deno.uid() !== 0) return "needs root to create a test user";
  for (const f of ["/usr/sbin/useradd", "/usr/bin/setpriv", "/usr/bin/newuidmap"]) {
    try {
      Deno.statSync(f);
    } catch {
      return `${f} is missing (packages passwd, util-linux, uidmap)`;
    }
  }
  try {
    const n = Deno.readTextFileSync("/proc/sys/user/max_user_namespaces").trim();
    if (n === "0") return "user namespaces are disabled (user.max_user_namespaces = 0)";
  } catch {
    // older kernels have no such file: user namespaces are on
  }
  return undefined;
}

function dropSubIdLines(file: string, name: string): void {
  try {
    const text = Deno.readTextFileSync(file);
    const kept = text.split("\n").filter((l) => !l.startsWith(`${name}:`)).join("\n");
    if (kept !== text) Deno.writeTextFileSync(file, kept);
  } catch {
    // no such file
  }
}

/** Creates a user with `useradd -m` and an XDG_RUNTIME_DIR for it. */
export async function createTestUser(): Promise<TestUser> {
  const name = `rl${crypto.randomUUID().slice(0, 8)}`;
  await sh("/usr/sbin/useradd", ["-m", "-s", "/bin/sh", name]);
  const remove = async () => {
    await sh("/usr/sbin/userdel", ["-r", name]).catch(() => {});
    dropSubIdLines("/etc/subuid", name);
    dropSubIdLines("/etc/subgid", name);
    await Deno.remove(xdg, { recursive: true }).catch(() => {});
  };
  const xdg = `/tmp/runts-xdg-${name}`;
  try {
    const uid = Number((await sh("/usr/bin/id", ["-u", name])).trim());
    const gid = Number((await sh("/usr/bin/id", ["-g", name])).trim());
    const line = Deno.readTextFileSync("/etc/subuid").split("\n")
      .find((l) => l.startsWith(`${name}:`));
    if (line === undefined) throw new Error(`useradd gave ${name} no /etc/subuid range`);
    const [, start, size] = line.split(":");
    Deno.mkdirSync(xdg, { mode: 0o700 });
    Deno.chownSync(xdg, uid, gid);
    return {
      name,
      uid,
      gid,
      xdg,
      subStart: Number(start),
      subSize: Number(size),
      remove,
    };
  } catch (e) {
    await remove();
    throw e;
  }
}

/** Options of {@linkcode runAs}. */
export interface RunAsOptions {
  /** The environment (default: PATH, HOME and XDG_RUNTIME_DIR of the user). */
  env?: Record<string, string>;
  /** A cgroup2 cgroup.procs the command is put into (as root) before it drops to the user. */
  cgroupProcs?: string;
  /** Kill after this many ms (default 60000). */
  timeoutMs?: number;
  /** Given to the command's stdin (otherwise /dev/null). */
  stdin?: string;
}

/** The user's default environment. */
export function userEnv(u: TestUser): Record<string, string> {
  return { PATH: "/usr/bin:/bin", HOME: `/home/${u.name}`, XDG_RUNTIME_DIR: u.xdg };
}

/**
 * Runs a program as the user (setpriv, supplementary groups of the user). Stdout and stderr
 * are files, so a process the command leaves running (a sandbox process) holds no pipe of ours.
 */
export async function runAs(
  u: TestUser,
  argv: string[],
  opts: RunAsOptions = {},
): Promise<RuntsResult> {
  const out = await Deno.makeTempFile({ prefix: "runts-rl-out-" });
  const err = await Deno.makeTempFile({ prefix: "runts-rl-err-" });
  const inp = await Deno.makeTempFile({ prefix: "runts-rl-in-" });
  await Deno.writeTextFile(inp, opts.stdin ?? "");
  await Deno.chmod(inp, 0o644);
  try {
    const drop = ["/usr/bin/setpriv", "--reuid", String(u.uid), "--regid", String(u.gid)];
    const inner = [...drop, "--init-groups", "--", ...argv];
    const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    const script = `${
      opts.cgroupProcs ? `echo $$ > ${q(opts.cgroupProcs)} || exit 99; ` : ""
    }exec ${inner.map(q).join(" ")} >${q(out)} 2>${q(err)} <${
      opts.stdin === undefined ? "/dev/null" : q(inp)
    }`;
    const child = new Deno.Command("/bin/sh", {
      args: ["-c", script],
      clearEnv: true,
      env: opts.env ?? userEnv(u),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, opts.timeoutMs ?? 60_000);
    const status = await child.status;
    clearTimeout(timer);
    return {
      code: status.code,
      stdout: await Deno.readTextFile(out),
      stderr: await Deno.readTextFile(err),
    };
  } finally {
    await Deno.remove(out).catch(() => {});
    await Deno.remove(err).catch(() => {});
    await Deno.remove(inp).catch(() => {});
  }
}

/** Runs `bin/runts ...args` as the user. */
export function runtsAs(
  u: TestUser,
  args: string[],
  opts: RunAsOptions = {},
): Promise<RuntsResult> {
  return runAs(u, [RUNTS_BIN, ...args], opts);
}

/**
 * A bundle the user can read: `runts spec --rootless`'s config (the user's ids mapped to root),
 * on the shared rootfs, no terminal, the given args, and the leftovers MARKER.
 */
export async function rootlessBundle(
  u: TestUser,
  args: string[],
  mutate?: (s: Spec) => void,
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "runts-rl-bundle-" });
  await Deno.chmod(dir, 0o755);
  const spec = defaultSpec({ rootless: true, uid: u.uid, gid: u.gid });
  spec.root = { path: ROOTFS, readonly: true };
  spec.process!.terminal = false;
  spec.process!.args = args;
  spec.process!.env = [...(spec.process!.env ?? []), `${MARKER}=${dir}`];
  spec.hostname = "rootless";
  mutate?.(spec);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(spec, null, 2) + "\n", {
    mode: 0o644,
  });
  return { dir, cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}) };
}

/** pids of the user's processes (a sandbox or container left behind shows here). */
export async function processesOf(u: TestUser): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const st = await Deno.stat(`/proc/${e.name}`);
      if (st.uid !== u.uid && !(st.uid! >= u.subStart && st.uid! < u.subStart + u.subSize)) {
        continue;
      }
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).replaceAll("\0", " ");
      const status = await Deno.readTextFile(`/proc/${e.name}/status`);
      const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, "m").exec(status)?.[1] ?? "";
      // An exited process whose reaper has not come yet (PID 1 here reaps orphans lazily).
      if (field("State").startsWith("Z")) continue;
      out.push(
        `${e.name} [${field("Name")} ${field("State")} ppid ${field("PPid")}] ${cmd.trim()}`,
      );
    } catch {
      // exited
    }
  }
  return out;
}
