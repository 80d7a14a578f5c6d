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
import { currentStatus, loadContainer, sandboxOf, writePidFile } from "../sandbox/lifecycle.ts";
import { sandboxAlive } from "../sandbox/sandbox.ts";
import { RpcClient } from "../rpc/client.ts";
import * as M from "../rpc/methods.ts";
import type { GlobalOptions } from "./context.ts";

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
}

const VALUE = new Map<string, string>([
  ["process", "process"],
  ["p", "process"],
  ["pid-file", "pidFile"],
  ["console-socket", "consoleSocket"],
  ["cwd", "cwd"],
  ["env", "env"],
  ["e", "env"],
  ["user", "user"],
  ["u", "user"],
  ["additional-gids", "additionalGids"],
  ["g", "additionalGids"],
  ["cap", "caps"],
  ["c", "caps"],
  ["preserve-fds", "preserveFds"],
  ["apparmor", "apparmor"],
  ["process-label", "processLabel"],
  ["cgroup", "cgroup"],
]);
const BOOL = new Map<string, string>([
  ["detach", "detach"],
  ["d", "detach"],
  ["tty", "tty"],
  ["t", "tty"],
  ["no-new-privs", "noNewPrivs"],
  ["ignore-paused", "ignorePaused"],
]);

/** Parses exec's arguments. */
export function parseExecArgs(argv: string[]): ExecArgs {
  const a: ExecArgs = {
    id: "",
    command: [],
    detach: false,
    tty: false,
    env: [],
    additionalGids: [],
    caps: [],
    noNewPrivs: false,
    preserveFds: 0,
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const m = /^--?([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const name = m?.[1] ?? "";
    if (BOOL.has(name) && m?.[2] === undefined) {
      (a as unknown as Record<string, boolean>)[BOOL.get(name)!] = true;
      continue;
    }
    const field = VALUE.get(name);
    if (field === undefined) throw new Error(`exec: unknown flag ${JSON.stringify(arg)}`);
    const value = m?.[2] ?? argv[++i];
    if (value === undefined) throw new Error(`exec: flag ${arg} needs a value`);
    switch (field) {
      case "env":
        a.env.push(value);
        break;
      case "caps":
        a.caps.push(value);
        break;
      case "additionalGids":
        for (const g of value.split(",")) a.additionalGids.push(intArg("--additional-gids", g));
        break;
      case "preserveFds":
        a.preserveFds = intArg("--preserve-fds", value);
        break;
      case "cgroup":
        break;
      default:
        (a as unknown as Record<string, string>)[field] = value;
    }
  }
  const rest = argv.slice(i);
  if (rest.length === 0) throw new Error("exec: container id is required");
  a.id = rest[0]!;
  a.command = rest.slice(1);
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

/** Runs exec. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parseExecArgs(argv);
  const { rec, store } = loadContainer(g, a.id);
  const status = currentStatus(rec);
  if (!canExec(status)) throw new Error(`cannot exec in a container that is ${status}: "${a.id}"`);
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
        const args: M.ExecuteAsyncArgs = { id: a.id, spec, preserveFds: a.preserveFds };
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
