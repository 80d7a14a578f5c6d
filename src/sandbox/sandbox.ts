/**
 * The host side of a sandbox: start its process (`runts boot`) with the clone routine, and
 * talk to it.
 * @module
 */
import { spawnProgram } from "../../ffi/clone.ts";
import { Program, StrV } from "../../ffi/program.ts";
import { closeFd } from "../../ffi/process.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";
import { u64s } from "../../ffi/structs/kernel.ts";
import { AT_FDCWD, CLOSE_RANGE_CLOEXEC, O, PR } from "../linux/consts.ts";
import { readReport, reportError } from "../linux/channel.ts";
import { startTime } from "../linux/procs.ts";
import { ignoredSignals, SIGKILL } from "../linux/signals.ts";
import { selfArgv } from "./self.ts";

import type { SandboxProcess } from "./process.ts";

/** Options of startSandbox(). */
export interface StartSandboxOptions {
  /** --root of the runts that starts it. */
  root: string;
  /**
   * Sandbox id (the root container's id); undefined for a spare sandbox process, which waits
   * for a create to adopt it (src/sandbox/spare.ts) and does not die with the command that
   * started it.
   */
  id: string | undefined;
  /** A spare's socket path until the create that starts it names it (`boot --spare=PATH`). */
  spareSocket?: string;
  /** The listening control socket, handed over as fd 3. */
  listenFd: number;
  /** File that receives the sandbox process's stderr. */
  logPath: string;
  /** Pass --debug. */
  debug?: boolean;
  /**
   * Called as soon as the process exists, before it has exec'd runts: the caller records it
   * there and then, so that no moment leaves a sandbox process nobody knows of.
   */
  onSpawned?: (sb: SandboxProcess) => void;
  /** Pass --systemd-cgroup. */
  systemdCgroup?: boolean;
  /**
   * Return once the process is cloned, without waiting for its execve (a spare: one that fails
   * to start is simply not there for the next create, and nobody waits for it).
   */
  noWait?: boolean;
}

/** V8 flags for the long-lived sandbox process: a small heap. */
const SANDBOX_V8_FLAGS = [
  "--max-old-space-size=32",
  "--max-semi-space-size=1",
  "--single-threaded-gc",
];

/**
 * The sandbox process's environment: this one's, with one malloc arena for all its threads
 * (unless the environment sets it): glibc gives each thread that allocates an arena of its own,
 * and an idle sandbox process keeps their pages (~0.4 MiB of Pss_Anon).
 */
export function sandboxEnv(env: Record<string, string>): string[] {
  return Object.entries({ MALLOC_ARENA_MAX: "1", ...env }).map(([k, v]) => `${k}=${v}`);
}

/** The syscall program that becomes `runts boot` (pure: decided before the clone). */
function sandboxProgram(o: StartSandboxOptions, argv: string[], env: string[]): Program {
  const p = new Program();
  const nul = p.call("openat", SYS.openat, [AT_FDCWD, "/dev/null", O.RDWR | O.CLOEXEC, 0], {
    subject: '"/dev/null"',
  });
  const log = p.call("openat", SYS.openat, [
    AT_FDCWD,
    o.logPath,
    O.WRONLY | O.CREAT | O.CLOEXEC | O.APPEND,
    0o600,
  ], { subject: JSON.stringify(o.logPath) });
  p.call("dup2", SYS.dup2, [nul, 0]);
  p.call("dup2", SYS.dup2, [nul, 1]);
  p.call("dup2", SYS.dup2, [log, 2]);
  p.call("dup2", SYS.dup2, [o.listenFd, 3], { subject: "control socket" });
  p.call("setsid", SYS.setsid, []);
  // Until the creator has recorded it (its first Create request), the sandbox process dies
  // with the creator: a create killed at any moment leaves no sandbox process nobody knows of.
  // (A spare outlives the command that starts it; it exits by itself when nobody adopts it.)
  if (o.id !== undefined) p.call("prctl", SYS.prctl, [PR.SET_PDEATHSIG, SIGKILL]);
  for (const sig of ignoredSignals()) {
    p.call("rt_sigaction", SYS.rt_sigaction, [sig, new Uint8Array(32), null, 8]);
  }
  p.call("rt_sigprocmask", SYS.rt_sigprocmask, [2, u64s(0n), null, 8]);
  p.call("close_range", SYS.close_range, [4, 0xffffffff, CLOSE_RANGE_CLOEXEC]);
  p.call("execve", SYS.execve, [argv[0]!, new StrV(argv), new StrV(env)], {
    subject: JSON.stringify(argv[0]),
  });
  return p;
}

/** Starts the sandbox process; returns once it has exec'd runts. */
export async function startSandbox(o: StartSandboxOptions): Promise<SandboxProcess> {
  const args = [
    "--root",
    o.root,
    ...(o.debug ? ["--debug"] : []),
    ...(o.systemdCgroup ? ["--systemd-cgroup"] : []),
    "boot",
    ...(o.id === undefined
      ? [`--spare=${o.spareSocket ?? ""}`]
      : [o.id, "--creator", String(Deno.pid)]),
  ];
  const argv = selfArgv(args, SANDBOX_V8_FLAGS);
  const program = sandboxProgram(o, argv, sandboxEnv(Deno.env.toObject()));
  const s = spawnProgram(program, { flags: 0 });
  try {
    o.onSpawned?.({ pid: s.pid, startTime: startTime(s.pid) ?? "" });
    if (o.noWait) return { pid: s.pid, startTime: startTime(s.pid) ?? "" };
    const r = await readReport(s.reportFd);
    if (r.kind === "failed") throw reportError(program, r.index, r.errno);
    return { pid: s.pid, startTime: startTime(s.pid) ?? "" };
  } finally {
    closeFd(s.reportFd);
    closeFd(s.pidfd);
  }
}
