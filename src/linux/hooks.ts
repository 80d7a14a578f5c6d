/**
 * OCI hooks: each hook is a process started with the clone routine (exact argv, including
 * argv[0]), given the container's state JSON on stdin, its output captured for the error
 * message, killed after its timeout. Hooks of the container namespace join the namespaces of
 * the container's init through its pidfd.
 * @module
 */
import { spawnProgram } from "../../ffi/clone.ts";
import {
  closeFd,
  openPath,
  pidfdSignal,
  pipe,
  pollPidfd,
  setns,
  waitPidfd,
  writeAll,
} from "../../ffi/process.ts";
import { Program, StrV } from "../../ffi/program.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";
import { rawSyscallAsync } from "../../ffi/syscall.ts";
import type { Hook, Hooks, Spec } from "../oci/spec.ts";
import type { OciState } from "../oci/state.ts";
import { CLOSE_RANGE_CLOEXEC, NS_FLAG, PR } from "./consts.ts";
import { filterProg, SECCOMP_SET_MODE_FILTER } from "./init_program.ts";
import { compileLoaded } from "./seccomp_lazy.ts";
import { ignoredSignals, SIGKILL } from "./signals.ts";
import { readReport, reportError } from "./channel.ts";
import { nsJoinFlags } from "./procs.ts";

/** SECCOMP_FILTER_FLAG_NEW_LISTENER and _WAIT_KILLABLE_RECV: a hook's filter has no listener. */
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;
const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5;

/** A hook point of the runtime-spec. */
export type HookName = keyof Hooks;

/** Where a hook runs: the runtime's namespaces, or the container's (through the init). */
export interface HookPlace {
  /** pidfd of the container's init, and the namespaces to join (setns flags). */
  container?: { pidfd: number; nsFlags: number; joinPid: boolean };
  /** The container's seccomp filter, loaded before execve (startContainer hooks). */
  seccomp?: { filter: Uint8Array; flags: number; noNewPrivileges: boolean };
}

/** The program of one hook: stdio, then execve of its path with its exact argv and env. */
export function hookProgram(
  hook: Hook,
  fds: { stdin: number; out: number },
  place: HookPlace = {},
  ignored: number[] = [],
): Program {
  const p = new Program();
  if (place.container && place.container.nsFlags !== 0) {
    p.call("setns", SYS.setns, [place.container.pidfd, place.container.nsFlags], {
      subject: "the container's namespaces",
    });
    if (place.container.nsFlags & NS_FLAG.user) {
      // In the container's user namespace the hook runs as its root, as the init does (the
      // host's ids are not mapped there: tools like mount(8) refuse an unmapped uid).
      p.call("setresgid", SYS.setresgid, [0, 0, 0], { subject: "root of the user namespace" });
      p.call("setresuid", SYS.setresuid, [0, 0, 0], { subject: "root of the user namespace" });
    }
  }
  p.call("dup2", SYS.dup2, [fds.stdin, 0]);
  p.call("dup2", SYS.dup2, [fds.out, 1]);
  p.call("dup2", SYS.dup2, [fds.out, 2]);
  for (const sig of ignored) {
    p.call("rt_sigaction", SYS.rt_sigaction, [sig, new Uint8Array(32), null, 8]);
  }
  p.call("close_range", SYS.close_range, [3, 0xffffffff, CLOSE_RANGE_CLOEXEC]);
  if (place.seccomp !== undefined) {
    if (place.seccomp.noNewPrivileges) {
      p.call("prctl", SYS.prctl, [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0], {
        subject: "PR_SET_NO_NEW_PRIVS",
      });
    }
    p.call("seccomp", SYS.seccomp, [
      SECCOMP_SET_MODE_FILTER,
      place.seccomp.flags,
      filterProg(place.seccomp.filter),
    ], { subject: "the container's linux.seccomp" });
  }
  p.call("execve", SYS.execve, [
    hook.path,
    new StrV(hook.args ?? [hook.path]),
    new StrV(hook.env ?? []),
  ], {
    subject: JSON.stringify(hook.path),
  });
  return p;
}

async function readAll(fd: number, limit = 64 * 1024): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await rawSyscallAsync(SYS.read, fd, buf, buf.byteLength);
    if (n === -4) continue;
    if (n <= 0) break;
    if (total < limit) chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return new TextDecoder().decode(out);
}

/** Runs one hook to its end; throws naming the hook when it fails or times out. */
export async function runHook(
  name: HookName,
  hook: Hook,
  state: OciState,
  place: HookPlace = {},
): Promise<void> {
  const what = `${name} hook ${JSON.stringify(hook.path)}`;
  const [inRd, inWr] = pipe();
  const [outRd, outWr] = pipe();
  let ownPidNs: number | undefined;
  let spawned;
  const program = hookProgram(hook, { stdin: inRd, out: outWr }, place, ignoredSignals());
  try {
    if (place.container?.joinPid) {
      ownPidNs = openPath("/proc/self/ns/pid", 0);
      setns(place.container.pidfd, NS_FLAG.pid, "the container's pid namespace");
    }
    try {
      spawned = spawnProgram(program, { flags: 0 });
    } finally {
      if (ownPidNs !== undefined) {
        setns(ownPidNs, NS_FLAG.pid, "own pid namespace");
        closeFd(ownPidNs);
      }
    }
  } finally {
    closeFd(inRd);
    closeFd(outWr);
  }
  const output = readAll(outRd);
  let stdin = inWr;
  try {
    try {
      writeAll(stdin, new TextEncoder().encode(JSON.stringify(state)), `${what} stdin`);
    } catch {
      // a hook that does not read its stdin is fine
    }
    closeFd(stdin);
    stdin = -1;
    const report = await readReport(spawned.reportFd);
    if (report.kind === "failed") {
      await waitPidfd(spawned.pidfd);
      throw new Error(`${what}: ${reportError(program, report.index, report.errno).message}`);
    }
    const timeout = hook.timeout !== undefined && hook.timeout > 0 ? hook.timeout * 1000 : -1;
    if (!(await pollPidfd(spawned.pidfd, timeout))) {
      pidfdSignal(spawned.pidfd, SIGKILL);
      await waitPidfd(spawned.pidfd);
      throw new Error(`${what}: timed out after ${hook.timeout}s`);
    }
    const status = await waitPidfd(spawned.pidfd);
    const text = (await output).trim();
    if (status.code !== 0) {
      const how = status.signal !== undefined
        ? `killed by signal ${status.signal}`
        : `exit status ${status.code}`;
      throw new Error(`${what}: ${how}${text ? `: ${text.split("\n").slice(-3).join(" ")}` : ""}`);
    }
  } finally {
    closeFd(stdin);
    closeFd(spawned.reportFd);
    closeFd(spawned.pidfd);
    await output.catch(() => "");
    closeFd(outRd);
  }
}

/** Where a container-namespace hook runs for the container whose init is `pid`. */
export function containerPlace(pid: number, pidfd: number): HookPlace {
  const { nsFlags, joinPid } = nsJoinFlags(pid);
  return { container: { pidfd, nsFlags, joinPid } };
}

/**
 * Where the startContainer hooks run: in the container's namespaces and under its seccomp
 * filter (with no_new_privs when the process has it), as a process the init started would.
 * The filter has no listener of its own here: a notify rule answers ENOSYS to the hook.
 */
export function startContainerPlace(pid: number, pidfd: number, spec: Spec): HookPlace {
  const place = containerPlace(pid, pidfd);
  const sc = spec.linux?.seccomp;
  if (sc === undefined) return place;
  const c = compileLoaded(sc); // (loaded when the container's init was made)
  return {
    ...place,
    seccomp: {
      filter: c.filter,
      flags: c.flags & ~(SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV),
      noNewPrivileges: spec.process?.noNewPrivileges === true,
    },
  };
}

/**
 * Runs the poststart hooks: a failing one is a warning (`warn`), and the others still run
 * (runtime-spec: the lifecycle continues as if it had succeeded).
 */
export async function runPoststartHooks(
  hooks: Hooks | undefined,
  state: OciState,
  warn: (message: string) => void,
): Promise<void> {
  for (const h of hooks?.poststart ?? []) {
    try {
      await runHook("poststart", h, state);
    } catch (e) {
      warn((e as Error).message);
    }
  }
}

/** Runs the hooks of one point in order; the first failure stops them and is thrown. */
export async function runHooks(
  name: HookName,
  hooks: Hooks | undefined,
  state: OciState,
  place: HookPlace = {},
): Promise<void> {
  for (const h of hooks?.[name] ?? []) await runHook(name, h, state, place);
}
