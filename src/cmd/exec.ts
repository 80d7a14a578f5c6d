/**
 * `runts exec [options] ID COMMAND [ARG...]` and `runts exec --process process.json ID`: runs
 * a process in a running container. Flags come before the id; everything after the id is the
 * command, dashes included (runc's rules).
 * @module
 */
import { closeFd, pidfdSignal } from "../../ffi/process.ts";
import { connectConsoleSocket, consolePair, receiveMaster, relay } from "../linux/console.ts";
import { execProcess } from "../linux/init.ts";
import { CAPS } from "../linux/consts.ts";
import { parseProcess } from "../oci/config.ts";
import type { Process, Spec } from "../oci/spec.ts";
import { canExec } from "../container/status.ts";
import {
  checkPidFile,
  currentStatus,
  loadContainer,
  sandboxOf,
  writePidFile,
} from "../sandbox/lifecycle.ts";
import { cgroupProcsOf } from "../linux/cgroup_mounts.ts";
import { sandboxAlive } from "../sandbox/sandbox.ts";
import { RpcClient } from "../rpc/client.ts";
import * as M from "../rpc/methods.ts";
import { ExitError, type GlobalOptions } from "./context.ts";
import { parseCommandArgs } from "./defs.ts";

/** Parsed arguments of exec. */
export interface ExecArgs {
  id: string;
  command: string[];
  process?: string;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  tty: boolean;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: number[];
  caps: string[];
  noNewPrivs: boolean;
  preserveFds: number;
  apparmor?: string;
  processLabel?: string;
  /** `--cgroup [CONTROLLERS:]PATH` values: sub-cgroups of the container's cgroup to join. */
  cgroup: string[];
  /** `--ignore-paused`: exec even in a paused container. */
  ignorePaused: boolean;
}

/** Parses exec's arguments. */
export function parseExecArgs(argv: string[]): ExecArgs {
  const { values: v, positionals } = parseCommandArgs("exec", argv);
  const str = (name: string) => v[name] as string | undefined;
  const a: ExecArgs = {
    id: positionals[0]!,
    command: positionals.slice(1),
    detach: v.detach === true,
    tty: v.tty === true,
    env: v.env as string[],
    additionalGids: (v["additional-gids"] as string[]).flatMap((s) =>
      s.split(",").map((g) => intArg("--additional-gids", g))
    ),
    caps: v.cap as string[],
    noNewPrivs: v["no-new-privs"] === true,
    preserveFds: intArg("--preserve-fds", v["preserve-fds"] as string),
    ignorePaused: v["ignore-paused"] === true,
    cgroup: v.cgroup as string[],
  };
  const fields = [
    ["process", "process"],
    ["pid-file", "pidFile"],
    ["console-socket", "consoleSocket"],
    ["cwd", "cwd"],
    ["user", "user"],
    ["apparmor", "apparmor"],
    ["process-label", "processLabel"],
  ] as const;
  for (const [flag, field] of fields) {
    const x = str(flag);
    if (x !== undefined) a[field] = x;
  }
  if (a.process === undefined && a.command.length === 0) {
    throw new Error("exec: a command (or --process) is required");
  }
  return a;
}

function intArg(flag: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new Error(`exec: ${flag}: not a number: ${JSON.stringify(v)}`);
  return Number(v);
}

/** The process to run: process.json as given, or the container's process with the flags. */
export function execProcessSpec(base: Process | undefined, a: ExecArgs): Process {
  if (a.process !== undefined) {
    let text: string;
    try {
      text = Deno.readTextFileSync(a.process);
    } catch (e) {
      throw new Error(`exec: --process ${JSON.stringify(a.process)}: ${(e as Error).message}`);
    }
    return parseProcess(text, a.process);
  }
  const p: Process = structuredClone(base ?? { args: [], cwd: "/" });
  p.args = a.command;
  p.terminal = a.tty;
  const env = [...(p.env ?? [])];
  for (const kv of a.env) {
    if (!kv.includes("=")) throw new Error(`exec: --env ${JSON.stringify(kv)}: must be KEY=VALUE`);
    const key = kv.slice(0, kv.indexOf("=") + 1);
    const at = env.findIndex((e) => e.startsWith(key));
    if (at >= 0) env[at] = kv;
    else env.push(kv);
  }
  p.env = env;
  if (a.cwd !== undefined) p.cwd = a.cwd;
  if (a.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(a.user);
    if (!m) throw new Error(`exec: --user ${JSON.stringify(a.user)}: must be UID[:GID]`);
    p.user = { ...(p.user ?? { uid: 0, gid: 0 }), uid: Number(m[1]) };
    if (m[2] !== undefined) p.user.gid = Number(m[2]);
  }
  if (a.additionalGids.length) {
    p.user = { ...(p.user ?? { uid: 0, gid: 0 }), additionalGids: a.additionalGids };
  }
  if (a.caps.length) {
    for (const c of a.caps) {
      if (!CAPS.includes(c)) {
        throw new Error(`exec: --cap ${JSON.stringify(c)}: unknown capability`);
      }
    }
    const caps = p.capabilities ?? {};
    for (const set of ["bounding", "effective", "permitted"] as const) {
      caps[set] = [...new Set([...(caps[set] ?? []), ...a.caps])];
    }
    p.capabilities = caps;
  }
  if (a.noNewPrivs) p.noNewPrivileges = true;
  if (a.apparmor !== undefined) p.apparmorProfile = a.apparmor;
  if (a.processLabel !== undefined) p.selinuxLabel = a.processLabel;
  return p;
}

const FORWARDED: [Deno.Signal, number][] = [
  ["SIGINT", 2],
  ["SIGTERM", 15],
  ["SIGHUP", 1],
  ["SIGQUIT", 3],
  ["SIGUSR1", 10],
  ["SIGUSR2", 12],
];

/**
 * The cgroup.procs files an exec'd process joins with `--cgroup [CONTROLLERS:]PATH` (repeatable,
 * as runc): PATH is relative to the container's cgroup in the hierarchies of CONTROLLERS (all
 * when left out); the other hierarchies keep the container's cgroup.
 *
 * @param base the container's cgroup.procs files (`<mount>/<controllers>/<path>/cgroup.procs`)
 * @throws {Error} `PATH is not a sub cgroup path` when PATH leaves the container's cgroup.
 */
export function execCgroupProcs(base: readonly string[], values: readonly string[]): string[] {
  const out = [...base];
  for (const v of values) {
    const colon = v.indexOf(":");
    const ctrls = colon < 0 ? undefined : v.slice(0, colon).split(",");
    const path = colon < 0 ? v : v.slice(colon + 1);
    let depth = 0;
    const parts: string[] = [];
    for (const seg of path.split("/")) {
      if (seg === "" || seg === ".") continue;
      if (seg === "..") {
        depth--;
        parts.pop();
      } else {
        depth++;
        parts.push(seg);
      }
      if (depth < 0) throw new Error(`${path} is not a sub cgroup path`);
    }
    if (parts.length === 0) continue;
    base.forEach((file, i) => {
      const dir = file.slice(0, file.lastIndexOf("/"));
      const hierarchy = /^\/sys\/fs\/cgroup\/([^/]+)/.exec(dir)?.[1] ?? "";
      const names = hierarchy === "unified" ? [""] : hierarchy.split(",");
      if (ctrls !== undefined && !ctrls.some((c) => names.includes(c))) return;
      out[i] = `${dir}/${parts.join("/")}/cgroup.procs`;
    });
  }
  return out;
}

/** The sub-cgroups given with --cgroup, checked to exist. */
function cgroupProcsFor(initPid: number, values: readonly string[]): string[] | undefined {
  if (values.length === 0) return undefined;
  const files = execCgroupProcs(cgroupProcsOf(initPid), values);
  for (const f of files) {
    try {
      Deno.statSync(f);
    } catch {
      throw new Error(`--cgroup: no cgroup ${JSON.stringify(f.slice(0, f.lastIndexOf("/")))}`);
    }
  }
  return files;
}

/**
 * Runs exec. Its own failures exit 255 with `exec failed: ...`, as runc's; the process's exit
 * status is returned as is.
 */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  try {
    return await execMain(g, argv);
  } catch (e) {
    throw new ExitError(
      255,
      `exec failed: ${(e as Error).message.replace(/^exec: (?=-|a command)/, "")}`,
      e,
    );
  }
}

async function execMain(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseExecArgs(argv);
  if (a.pidFile !== undefined) checkPidFile(a.pidFile);
  const { rec, store } = loadContainer(g, a.id);
  const status = currentStatus(rec);
  if (!canExec(status, a.ignorePaused)) {
    throw new Error(
      status === "paused"
        ? "cannot exec in a paused container (use --ignore-paused to override)"
        : `cannot exec in a ${status} container`,
    );
  }
  const cgroupProcs = cgroupProcsFor(rec.pid, a.cgroup);
  const spec = JSON.parse(Deno.readTextFileSync(`${store.dir(a.id)}/config.json`)) as Spec;
  spec.process = execProcessSpec(spec.process, a);
  const terminal = spec.process.terminal === true;
  if (terminal && a.detach && a.consoleSocket === undefined) {
    throw new Error("exec: --detach with a terminal needs --console-socket");
  }
  if (!terminal && a.consoleSocket !== undefined) {
    throw new Error("exec: --console-socket given but no terminal was asked for (--tty)");
  }
  let ours = -1;
  let theirs = -1;
  const listeners: [Deno.Signal, () => void][] = [];
  try {
    if (terminal && a.consoleSocket !== undefined) theirs = connectConsoleSocket(a.consoleSocket);
    else if (terminal) [ours, theirs] = consolePair();
    // Detached without a pid file (no subreaper waits for it): the sandbox process becomes its
    // parent, reaps it and can report its exit (WaitPID).
    if (a.detach && a.pidFile === undefined && sandboxAlive(sandboxOf(rec))) {
      const client = RpcClient.connect(rec.socketPath);
      try {
        const fds: Record<string, number> = { stdin: 0, stdout: 1, stderr: 2 };
        for (let i = 0; i < a.preserveFds; i++) fds[`p${i}`] = 3 + i;
        if (theirs >= 0) fds.console = theirs;
        const args: M.ExecuteAsyncArgs = {
          id: a.id,
          spec,
          preserveFds: a.preserveFds,
          ...(cgroupProcs ? { cgroupProcs } : {}),
        };
        client.callSync(M.EXECUTE_ASYNC, args, fds);
        return 0;
      } finally {
        client.close();
      }
    }
    const proc = await execProcess({
      initPid: rec.pid,
      initStartTime: rec.initStartTime,
      container: { id: a.id, bundle: rec.bundle },
      spec,
      stdio: [0, 1, 2],
      preserveFds: Array.from({ length: a.preserveFds }, (_, i) => 3 + i),
      ...(theirs >= 0 ? { consoleFd: theirs } : {}),
      ...(cgroupProcs ? { cgroupProcs } : {}),
    });
    closeFd(theirs);
    theirs = -1;
    if (a.pidFile !== undefined) writePidFile(a.pidFile, proc.pid);
    if (a.detach) return 0;
    for (const [sig, num] of FORWARDED) {
      const fn = () => {
        try {
          pidfdSignal(proc.pidfd, num);
        } catch {
          // gone
        }
      };
      Deno.addSignalListener(sig, fn);
      listeners.push([sig, fn]);
    }
    const relaying = ours >= 0 ? relay(receiveMaster(ours)) : Promise.resolve();
    const st = await proc.wait();
    await relaying;
    proc.close();
    return st?.code ?? 0;
  } finally {
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
    closeFd(ours);
    closeFd(theirs);
  }
}
