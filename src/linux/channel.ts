/**
 * The handshake between runts and a process it cloned (a container's init, an exec'd process,
 * a hook, the sandbox process), as one small typed channel. Two pipes carry it:
 *
 * - the **report pipe** (child → parent, 16-byte records): a failing step's index and errno, or
 *   a mark: `hooks` (namespaces and mounts are ready: run the create hooks), `notify` (the
 *   seccomp listener fd is at SCRATCH_FD: take it), `ready` (created, blocked before execve),
 *   `pid` (an exec forked into the pid namespace: the forked process's host pid, read before
 *   the channel is made);
 *   EOF once the child exec'd or exited;
 * - the **control pipe** (parent → child, one byte each): `sync` (cgroup joined and id maps
 *   written: go on), `hooksDone`, `listenerTaken`, `start` (go on to execve).
 *
 * Which message is legal when is the table {@linkcode NEXT}, checked on every message and
 * unit-tested without processes.
 * @module
 */
import { readReport as readRaw } from "../../ffi/clone.ts";
import { errnoMessage, errnoName } from "../../ffi/errno.ts";
import { closeFd, writeAll } from "../../ffi/process.ts";
import type { Program } from "../../ffi/program.ts";

/** The marks a child's program writes on the report pipe (above any step index). */
export const MARK = {
  ready: 0xffff_ffff_ffff_ffffn,
  hooks: 0xffff_ffff_ffff_fffen,
  notify: 0xffff_ffff_ffff_fffdn,
  /** The value is the host pid of the process an exec forked into the pid namespace. */
  pid: 0xffff_ffff_ffff_fffcn,
} as const;

/** What the child reported. */
export type Report =
  | { kind: "ready" }
  | { kind: "hooks" }
  | { kind: "notify" }
  | { kind: "eof" }
  | { kind: "pid"; pid: number }
  | { kind: "failed"; index: number; errno: number };

/** A message of the parent on the control pipe. */
export type Message = "sync" | "hooksDone" | "listenerTaken" | "start";

/** Where a handshake is: what the parent waits for or may send next. */
export type Phase =
  | "spawned"
  | "hooks"
  | "notify"
  | "ready"
  | "started"
  | "startedNotify"
  | "done";

/**
 * For each phase, the reports and messages that are legal in it and the phase they lead to.
 * `failed` and `eof` end any phase.
 */
export const NEXT: Readonly<Record<Phase, Partial<Record<Report["kind"] | Message, Phase>>>> = {
  spawned: { sync: "spawned", hooks: "hooks", notify: "notify", ready: "ready" },
  hooks: { hooksDone: "spawned" },
  notify: { listenerTaken: "spawned" },
  // Without a start message when the program goes straight on to execve (run, exec).
  ready: { start: "started", notify: "startedNotify" },
  started: { notify: "startedNotify" },
  startedNotify: { listenerTaken: "started" },
  done: {},
};

/** The phase after `what` in `phase`; throws when `what` is not legal there. */
export function advance(phase: Phase, what: Report["kind"] | Message): Phase {
  if (what === "failed" || what === "eof") return "done";
  const next = NEXT[phase][what];
  if (next === undefined) throw new Error(`init handshake: "${what}" is not expected ${phase}`);
  return next;
}

/** Reads the next report and names its mark. */
export async function readReport(fd: number): Promise<Report> {
  const r = await readRaw(fd);
  if (r.kind !== "mark") return r;
  if (r.mark === MARK.ready) return { kind: "ready" };
  if (r.mark === MARK.hooks) return { kind: "hooks" };
  if (r.mark === MARK.notify) return { kind: "notify" };
  if (r.mark === MARK.pid) return { kind: "pid", pid: Number(r.value) };
  return { kind: "failed", index: -1, errno: 5 };
}

/** The parent's end of the handshake with one child. */
export class InitChannel {
  #ctl: number;
  #report: number;
  #phase: Phase = "spawned";
  /** The child's program, to name the step of a failure. */
  readonly program: Program;

  /** Takes ownership of the control pipe's write end and the report pipe's read end. */
  constructor(ctl: number, report: number, program: Program) {
    this.#ctl = ctl;
    this.#report = report;
    this.program = program;
  }

  /** Where the handshake is. */
  get phase(): Phase {
    return this.#phase;
  }

  /** Sends a message to the child (one byte on the control pipe). */
  send(m: Message): void {
    this.#phase = advance(this.#phase, m);
    writeAll(this.#ctl, new Uint8Array([1]), `init handshake: ${m}`);
  }

  /** The next report of the child. */
  async next(): Promise<Report> {
    const r = await readReport(this.#report);
    this.#phase = advance(this.#phase, r.kind);
    return r;
  }

  /** The error a failure report stands for. */
  error(r: Report & { kind: "failed" }): Error {
    return reportError(this.program, r.index, r.errno);
  }

  /** True while messages can still be sent. */
  get open(): boolean {
    return this.#ctl >= 0;
  }

  /** Closes both pipe ends. */
  close(): void {
    closeFd(this.#report);
    closeFd(this.#ctl);
    this.#report = this.#ctl = -1;
  }
}

const PHASES: Record<string, string> = {
  namespaces: "setting up namespaces",
  rootfs: "preparing the rootfs",
  process: "setting up the process",
  console: "setting up the console",
  exec: "starting the container process",
};

/** Turns a failure report of the child into an error naming the step. */
export function reportError(program: Program, index: number, errno: number): Error {
  const step = program.steps[index];
  if (step === undefined) return new Error(`container init failed: ${errnoName(errno)}`);
  const special = step.opts.messages?.[errno];
  if (special !== undefined) return new Error(special);
  const phase = PHASES[step.opts.phase ?? ""] ?? "container init";
  const what = step.opts.subject ? `${step.name} ${step.opts.subject}` : step.name;
  return new Error(`${phase}: ${what}: ${errnoName(errno)} (${errnoMessage(errno)})`);
}
