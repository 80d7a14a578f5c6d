/**
 * `runts exec [options] ID COMMAND [ARG...]` and `runts exec --process process.json ID`: runs
 * a process in a running container. Flags come before the id; everything after the id is the
 * command, dashes included (runc's rules).
 * @module
 */
import { closeFd, pidfdSignal } from "../../ffi/process.ts";
import { connectConsoleSocket, consolePair, receiveMaster, relay } from "../linux/console.ts";
import { CAPS } from "../linux/consts.ts";
import { FORWARDED_SIGNALS } from "../linux/signals.ts";
import type { Process } from "../oci/spec.ts";
import { execInContainer, execSpec } from "../container/exec.ts";
import { checkPidFile } from "../container/pidfile.ts";
import { cgroupProcsOf } from "../linux/cgroup_mounts.ts";
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

/** A --process file, read and validated (the config parser is loaded only for it). */
async function processFile(path: string): Promise<Process> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`exec: --process ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  return (await import("../oci/config.ts")).parseProcess(text, path);
}

/** The process to run: process.json as given, or the container's process with the flags. */
function execProcessSpec(base: Process | undefined, a: ExecArgs, given?: Process): Process {
  if (given !== undefined) return given;
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
  const given = a.process === undefined ? undefined : await processFile(a.process);
  const make = (base: Process | undefined) => execProcessSpec(base, a, given);
  const terminal = execSpec(g, a.id, make).terminal === true;
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
    const started = await execInContainer(g, a.id, {
      process: make,
      detach: a.detach,
      ...(a.pidFile !== undefined ? { pidFile: a.pidFile } : {}),
      ...(a.ignorePaused ? { ignorePaused: true } : {}),
      cgroupProcs: (initPid: number) => cgroupProcsFor(initPid, a.cgroup),
      stdio: [0, 1, 2],
      preserve: Array.from({ length: a.preserveFds }, (_, i) => 3 + i),
      ...(theirs >= 0 ? { consoleFd: theirs } : {}),
    });
    closeFd(theirs);
    theirs = -1;
    const proc = started.proc;
    if (proc === undefined) return 0;
    if (a.detach) return 0;
    for (const [sig, num] of FORWARDED_SIGNALS) {
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
