/**
 * The spare sandbox process: after a `create` has started a sandbox process, it starts one more
 * in the background (`runts boot --spare`), listening on `<root>/.spare-<pid>-<start>-<key>.sock`.
 * The next `create` on that --root adopts it by renaming that socket to its container's socket
 * path (one rename: two creates cannot both win) instead of waiting for a Deno start, and starts
 * the next spare. `key` is a hash of what the sandbox process would inherit from its creator
 * (runts' own command line, --debug, the environment, the namespaces, cgroup and credentials it
 * runs in), so only a create that would have started a process that behaves the same adopts it:
 * a create in a private mount namespace (another cgroup view) or in another cgroup does not.
 *
 * Invisible otherwise: it is no container (`list` shows directories only) and it exits when no
 * create adopted it for a while (RUNTS_SPARE_IDLE_MS, default 30 s).
 *
 * Once adopted, its command line reads `boot <id>` like any sandbox process's (rewritten in
 * place, when the id fits in the space `--spare=PATH` took). Off unless RUNTS_SPARE=1: a process
 * that outlives the command that made it is left in `--root` for a while, which a user who
 * checks what a runtime leaves behind does not expect. Creates given a pid file (containerd
 * shims, conmon) neither adopt nor start one:
 * their init must be the caller's child (CLONE_PARENT from the sandbox process), which only a
 * sandbox process started by that create gives.
 * @module
 */
import { fnv1a32 } from "../hash.ts";
import { join } from "../path.ts";
import { closeFd } from "../../ffi/process.ts";
import { setCmdline } from "../../ffi/proctitle.ts";
import { listenUnix } from "../../ffi/socket.ts";
import { sandboxAlive, type SandboxProcess } from "./process.ts";
import { startSandbox } from "./sandbox.ts";
import { selfArgv } from "./self.ts";
import { sleep } from "../../ffi/timer.ts";

const PREFIX = ".spare-";
const NAME = /^\.spare-(\d+)-(\d+)-([0-9a-f]{8})\.sock$/;

/** True when RUNTS_SPARE=1 turns spare sandbox processes on. */
export function spareEnabled(): boolean {
  return Deno.env.get("RUNTS_SPARE") === "1";
}

/**
 * Where this process runs: its namespaces, its cgroups and its credentials. A sandbox process
 * inherits them from the create that starts it, so a spare fits only a create that has the same.
 */
function placeOfSelf(): string[] {
  const out = [`uid=${Deno.uid()} gid=${Deno.gid()}`];
  for (const ns of ["mnt", "user", "pid", "net", "cgroup", "ipc", "uts"]) {
    try {
      out.push(Deno.readLinkSync(`/proc/self/ns/${ns}`));
    } catch {
      out.push(`${ns}:?`);
    }
  }
  try {
    out.push(Deno.readTextFileSync("/proc/self/cgroup"));
  } catch {
    out.push("cgroup:?");
  }
  return out;
}

/** How long a spare waits for a create before it exits (RUNTS_SPARE_IDLE_MS, default 30 s). */
export function spareIdleMs(): number {
  const v = Number(Deno.env.get("RUNTS_SPARE_IDLE_MS"));
  return Number.isInteger(v) && v > 0 ? v : 30_000;
}

/** What a sandbox process is started with beside its id (--debug, --systemd-cgroup). */
export interface SpareFlags {
  debug: boolean;
  systemdCgroup?: boolean;
}

/**
 * The environment variables a sandbox process reads (runts', Deno's, the dynamic loader's, the
 * user and D-Bus ones rootless and systemd cgroups use): only they decide whether a spare fits.
 * Others (PWD, `_`, a benchmark's padding) differ from call to call and change nothing in it.
 */
export function spareEnvRelevant(name: string): boolean {
  // RUNTS_SPARE only turns spares on: a create without it must refuse a spare by that alone.
  if (name === "RUNTS_SPARE") return false;
  return /^(RUNTS_|DENO_|LD_|XDG_|DBUS_|LC_)/.test(name) ||
    ["PATH", "HOME", "USER", "TMPDIR", "LANG", "NO_COLOR", "TZ"].includes(name);
}

/** FNV-1a of what a sandbox process started by this command would inherit. */
export function spareKey(f: SpareFlags): string {
  const env = Object.entries(Deno.env.toObject()).filter(([k]) => spareEnvRelevant(k))
    .map(([k, v]) => `${k}=${v}`).sort();
  return fnv1a32(
    JSON.stringify([selfArgv([]), f.debug, f.systemdCgroup === true, env, placeOfSelf()]),
  );
}

/** Socket names of the spares in `root` made for `key`. */
function spares(root: string, key: string): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(root)) {
      if (e.name.startsWith(PREFIX) && NAME.exec(e.name)?.[3] === key) out.push(e.name);
    }
  } catch {
    // no root yet
  }
  return out;
}

/**
 * Takes a spare of `root` made for `key`: its listening socket becomes `socketPath`. Returns
 * the process, undefined when there is none (or none alive).
 */
export function adoptSpare(
  root: string,
  key: string,
  socketPath: string,
): SandboxProcess | undefined {
  for (const name of spares(root, key)) {
    const m = NAME.exec(name)!;
    try {
      Deno.renameSync(join(root, name), socketPath);
    } catch {
      continue; // another create took it, or it exited
    }
    const sb = { pid: Number(m[1]), startTime: m[2]! };
    if (sandboxAlive(sb)) return sb;
    try {
      Deno.removeSync(socketPath);
    } catch {
      // gone already
    }
  }
  return undefined;
}

/**
 * Starts a spare for `root` unless one made for `key` already waits. Best effort: a spare that
 * cannot start only means the next create starts its own sandbox process.
 */
export async function startSpare(root: string, key: string, f: SpareFlags): Promise<void> {
  if (spares(root, key).length > 0) return;
  const tmp = join(root, `${PREFIX}tmp-${Deno.pid}.sock`);
  let fd = -1;
  try {
    fd = listenUnix(tmp, { mode: 0o600, backlog: 16 });
    const sb = await startSandbox({
      root,
      id: undefined,
      spareSocket: tmp,
      listenFd: fd,
      logPath: "/dev/null",
      debug: f.debug,
      systemdCgroup: f.systemdCgroup === true,
      noWait: true,
    });
    Deno.renameSync(tmp, join(root, `${PREFIX}${sb.pid}-${sb.startTime}-${key}.sock`));
  } catch {
    try {
      Deno.removeSync(tmp);
    } catch {
      // not made
    }
  } finally {
    closeFd(fd);
  }
}

/**
 * In the spare itself (`tmp`: the socket path it was started on). Every `idleMs` it looks:
 * when the create that started it died before naming its socket (`tmp` still there), or no create
 * has adopted it since the last look (its `.spare-<pid>-...` socket still there), it removes the
 * socket and exits; when adopted (the socket renamed away) but asked for no container for two
 * looks (the adopting create died), it exits. Returns what to call on the first create request:
 * the watch ends and the command line becomes `... boot <id>`.
 */
export function watchSpare(root: string, tmp: string, idleMs: number): (id: string) => void {
  let empty = 0;
  const gone = (p: string): boolean => {
    try {
      Deno.removeSync(p);
      return true;
    } catch {
      return false;
    }
  };
  let watching = true;
  const look = () => {
    if (gone(tmp)) Deno.exit(0);
    let mine: string | undefined;
    try {
      for (const e of Deno.readDirSync(root)) {
        if (e.name.startsWith(`${PREFIX}${Deno.pid}-`)) mine = join(root, e.name);
      }
    } catch {
      // root removed
    }
    if (mine !== undefined && gone(mine)) Deno.exit(0);
    if (mine === undefined && ++empty >= 2) Deno.exit(0);
  };
  // (a timerfd, not setInterval: see ffi/timer.ts)
  void (async () => {
    for (;;) {
      await sleep(idleMs);
      if (!watching) return;
      look();
    }
  })();
  return (id) => {
    watching = false;
    const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    while (argv.at(-1) === "") argv.pop();
    const boot = argv.lastIndexOf("boot");
    if (boot > 0) setCmdline([...argv.slice(0, boot), "boot", id]);
  };
}
