/**
 * The process setup that ends the program: rlimits, personality, cwd, stdio, close-on-exec,
 * seccomp, credentials, signals, the executable check, the ready report, the wait for start
 * and the execve (through the exec stub).
 * @module
 */
import { join, normalize } from "../../path.ts";
import { REPORT_FD, StrV } from "../../../ffi/program.ts";
import { KERNEL_SIGACTION_SIZE, rlimit, u64s } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import { AT, AT_FDCWD, CLOSE_RANGE_CLOEXEC, E, O, PR, RLIMIT } from "../consts.ts";
import type { LinuxIOPriority, LinuxMemoryPolicy, LinuxScheduler } from "../../oci/spec.ts";
import type { Builder } from "./builder.ts";
import { credentials } from "./credentials.ts";
import { loadSeccomp } from "./seccomp.ts";

/** The paths execve tries for args[0], in order (execvp's rules, with the process's PATH). */
export function executableCandidates(arg0: string, env: readonly string[]): string[] {
  if (arg0 === "") return [""];
  if (arg0.includes("/")) return [arg0];
  const pathVar = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  const dirs = pathVar.split(":").filter((d) => d !== "");
  return (dirs.length ? dirs : ["/usr/bin"]).map((d) => join(d, arg0));
}

function execMessages(arg0: string): Record<number, string> {
  const q = JSON.stringify(arg0);
  return arg0.includes("/")
    ? {
      [E.ENOENT]: `exec: ${q}: no such file or directory`,
      [E.EACCES]: `exec: ${q}: permission denied`,
    }
    : {
      [E.ENOENT]: `exec: ${q}: executable file not found in $PATH`,
      [E.EACCES]: `exec: ${q}: permission denied`,
    };
}

const F_SETFD = 2;

const FD_CLOEXEC = 1;

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/**
 * The last phase: limits, stdio, close-on-exec, seccomp, credentials, signals, the checks
 * and reports, the wait for start and the execve.
 */
export function processSetup(b: Builder): void {
  const proc = b.spec.process;
  if (proc === undefined) throw new Error("process: required to create a container");
  for (const r of proc.rlimits ?? []) {
    const res = RLIMIT[r.type];
    if (res === undefined) throw new Error(`process.rlimits: unknown type "${r.type}"`);
    const v = (x: number) => (x < 0 || x >= 2 ** 64 - 1 ? RLIM_INFINITY : BigInt(x));
    b.call("prlimit64", SYS.prlimit64, [0, res, rlimit(v(r.soft), v(r.hard)), null], {
      subject: `${r.type} ${r.soft}:${r.hard}`,
    });
  }
  scheduling(b);
  memoryPolicy(b);
  if (b.o.exec !== undefined) execAffinity(b, "final");
  const pers = b.spec.linux?.personality;
  if (pers !== undefined) {
    const domain = { LINUX: 0x0000, LINUX32: 0x0008 }[pers.domain as "LINUX" | "LINUX32"];
    if (domain === undefined) {
      throw new Error(`linux.personality.domain: unknown domain ${JSON.stringify(pers.domain)}`);
    }
    b.call("personality", SYS.personality, [domain], {
      subject: `linux.personality ${pers.domain}`,
    });
  }
  const cwd = proc.cwd ?? "/";
  b.call("chdir", SYS.chdir, [cwd], { subject: `process.cwd ${JSON.stringify(cwd)}` });
  dupStdio(b);
  closeOnExec(b);
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the
  // capabilities are dropped (runc's order); with it, as the very last step.
  //
  // The filter is the container's, written for its program, not for runts: every call runts
  // makes after loading it must work under a profile that does not know it. With the early
  // filter those calls are: prctl(PR_CAPBSET_DROP, PR_SET_KEEPCAPS, PR_CAP_AMBIENT,
  // PR_SET_NO_NEW_PRIVS), setgroups, setresgid, setresuid, capset (the credentials: a
  // profile that denies them cannot run a container at all, as with runc), umask,
  // rt_sigaction, rt_sigprocmask, faccessat (the executable check), write (the ready and
  // error reports) and read (the wait for start) on pipes, openat/write/close of the LSM
  // exec label, the listener hand-over (dup2, write, read, close) and execve/execveat. Both
  // filters: dup2/write/read/close of the listener hand-over, then faccessat and the execve.
  // close_range, which older profiles do not know (EPERM) and old kernels lack (ENOSYS), is
  // done above, before any filter, and falls back to fcntl when refused anyway.
  const earlySeccomp = b.o.seccomp !== undefined && !proc.noNewPrivileges;
  if (earlySeccomp) loadSeccomp(b, b.o.seccomp!);
  credentials(b);
  if (proc.noNewPrivileges) {
    b.call("prctl", SYS.prctl, [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0], {
      subject: "PR_SET_NO_NEW_PRIVS",
    });
  }
  b.call("umask", SYS.umask, [proc.user?.umask ?? 0o022]);
  for (const sig of b.o.ignoredSignals ?? []) {
    b.call("rt_sigaction", SYS.rt_sigaction, [
      sig,
      new Uint8Array(KERNEL_SIGACTION_SIZE),
      null,
      8,
    ], { subject: `signal ${sig} to SIG_DFL` });
  }
  b.call("rt_sigprocmask", SYS.rt_sigprocmask, [2, /* SIG_SETMASK */ u64s(0n), null, 8]);

  const env = proc.env ?? [];
  const candidates = executableCandidates(proc.args?.[0] ?? "", env);
  exeCheck(b, candidates, proc.args?.[0] ?? "");
  b.call("write", SYS.write, [REPORT_FD, u64s(0xffff_ffff_ffff_ffffn, 0n), 16], {
    subject: "ready report",
  });
  if (!b.o.startImmediately) {
    b.call("read", SYS.read, [b.o.ctlFd, new Uint8Array(8), 1], {
      zeroFails: true,
      subject: "waiting for start",
    });
  }
  if (b.o.execLabel !== undefined) {
    const { file, value } = b.o.execLabel;
    const fd = b.call("openat", SYS.openat, [AT_FDCWD, file, O.WRONLY | O.CLOEXEC, 0], {
      subject: JSON.stringify(file),
    });
    const bytes = new TextEncoder().encode(value);
    b.call("write", SYS.write, [fd, bytes, bytes.byteLength], {
      subject: `LSM label ${JSON.stringify(value)}`,
    });
    b.call("close", SYS.close, [fd]);
  }
  const envp = new StrV(env);
  const args = proc.args ?? [];
  const messages = execMessages(args[0] ?? "");
  if (b.o.execStubFd === undefined) {
    if (b.o.seccomp !== undefined && !earlySeccomp) loadSeccomp(b, b.o.seccomp);
    b.phase = "exec";
    candidates.forEach((c, i) => {
      const last = i === candidates.length - 1;
      b.call("execve", SYS.execve, [c, new StrV(args), envp], {
        ...(last ? {} : { ok: [E.ENOENT, E.EACCES] }),
        subject: JSON.stringify(c),
        messages,
      });
    });
    return;
  }
  const hasProc = (b.spec.mounts ?? []).some((m) =>
    m.type === "proc" && normalize(m.destination) === "/proc"
  );
  // Through the exec stub: the candidate is chosen first (seccomp may deny faccessat), then
  // the filter is loaded and the stub runs it, so the runtime's binary is never this
  // process's executable when the container's program starts.
  candidates.forEach((c, i) => {
    const last = i === candidates.length - 1;
    const next = `exec-candidate-${i + 1}`;
    b.phase = "exec";
    b.call("faccessat", SYS.faccessat, [AT_FDCWD, c, 1 /* X_OK */], {
      ...(last ? {} : { ok: [E.ENOENT, E.EACCES], onErrGoto: next }),
      subject: JSON.stringify(c),
      messages,
    });
    if (b.o.seccomp !== undefined && !earlySeccomp) loadSeccomp(b, b.o.seccomp);
    b.phase = "exec";
    // execve of /proc/self/fd/N where the container has a /proc (seccomp profiles allow
    // execve; not all allow execveat), else execveat of the fd.
    const stub = b.o.execStubFd!;
    const subject = `${JSON.stringify(c)} through the exec stub`;
    if (hasProc) {
      b.call("execve", SYS.execve, [`/proc/self/fd/${stub}`, new StrV([c, ...args]), envp], {
        subject,
        messages,
      });
    } else {
      b.call("execveat", SYS.execveat, [
        stub,
        "",
        new StrV([c, ...args]),
        envp,
        AT.EMPTY_PATH,
      ], { subject, messages });
    }
    if (!last) b.p.label(next);
  });
}

const SCHED_POLICY: Record<string, number> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};

const SCHED_FLAG: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

const IOPRIO_CLASS: Record<string, number> = {
  IOPRIO_CLASS_RT: 1,
  IOPRIO_CLASS_BE: 2,
  IOPRIO_CLASS_IDLE: 3,
};

/** The kernel's value of a name in `table`; `field` and `what` name it in the error. */
function valueOf(table: Record<string, number>, name: string, field: string, what: string) {
  const v = table[name];
  if (v === undefined) throw new Error(`${field}: unknown ${what} ${JSON.stringify(name)}`);
  return v;
}

/** The bits of a list of flag names. */
function flagBits(table: Record<string, number>, names: readonly string[], field: string) {
  return names.reduce((bits, f) => bits | valueOf(table, f, field, "flag"), 0);
}

/** `struct sched_attr` (SCHED_ATTR_SIZE_VER0, 48 bytes) of process.scheduler. */
export function schedAttr(s: LinuxScheduler): Uint8Array {
  const policy = valueOf(SCHED_POLICY, s.policy, "process.scheduler.policy", "policy");
  const flags = flagBits(SCHED_FLAG, s.flags ?? [], "process.scheduler.flags");
  const rt = s.policy === "SCHED_FIFO" || s.policy === "SCHED_RR";
  if ((s.priority ?? 0) !== 0 && !rt) {
    throw new Error(
      `process.scheduler.priority: only SCHED_FIFO and SCHED_RR have one, not ${s.policy}`,
    );
  }
  const attr = new Uint8Array(48);
  const v = new DataView(attr.buffer);
  v.setUint32(0, 48, true); // size
  v.setUint32(4, policy, true);
  v.setBigUint64(8, BigInt(flags), true);
  v.setInt32(16, s.nice ?? 0, true);
  v.setUint32(20, s.priority ?? 0, true);
  v.setBigUint64(24, BigInt(s.runtime ?? 0), true);
  v.setBigUint64(32, BigInt(s.deadline ?? 0), true);
  v.setBigUint64(40, BigInt(s.period ?? 0), true);
  return attr;
}

/**
 * The ioprio_set value of process.ioPriority: the class in bits 13-15, the level (0 to 7, as
 * the config parser checked) below.
 */
export function ioprioValue(p: LinuxIOPriority): number {
  return valueOf(IOPRIO_CLASS, p.class, "process.ioPriority.class", "class") << 13 | p.priority;
}

/**
 * process.scheduler (sched_setattr) and process.ioPriority (ioprio_set), set on the process
 * itself before its capabilities are dropped (a real-time policy needs CAP_SYS_NICE, the RT
 * I/O class CAP_SYS_ADMIN); what it forks inherits both.
 */
function scheduling(b: Builder): void {
  const { scheduler, ioPriority } = b.spec.process ?? {};
  if (scheduler !== undefined) {
    b.call("sched_setattr", SYS.sched_setattr, [0, schedAttr(scheduler), 0], {
      subject: `process.scheduler ${scheduler.policy}`,
    });
  }
  if (ioPriority !== undefined) {
    b.call("ioprio_set", SYS.ioprio_set, [IOPRIO_WHO_PROCESS, 0, ioprioValue(ioPriority)], {
      subject: `process.ioPriority ${ioPriority.class} ${ioPriority.priority}`,
    });
  }
}

const IOPRIO_WHO_PROCESS = 1;

/** Bits of the masks below: glibc's CPU_SETSIZE, and the kernel's largest MAX_NUMNODES. */
const MASK_BITS = 1024;

/**
 * The bit mask of a list such as `"0-3,7"` (CPUs, NUMA nodes), undefined for an empty list.
 * @throws {Error} naming `field` for a malformed list or a number beyond 1023
 */
export function listMask(list: string, field: string, noun: string): Uint8Array | undefined {
  if (list.trim() === "") return undefined;
  const mask = new Uint8Array(MASK_BITS / 8);
  for (const part of list.split(",")) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (m === null || hi < lo || hi >= MASK_BITS) {
      throw new Error(
        `${field}: ${JSON.stringify(list)} is not a list of ${noun} 0 to ${MASK_BITS - 1} ` +
          '(such as "0-3,7")',
      );
    }
    for (let c = lo; c <= hi; c++) mask[c >> 3]! |= 1 << (c & 7);
  }
  return mask;
}

const MPOL_MODE: Record<string, number> = {
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};

const MPOL_FLAG: Record<string, number> = {
  MPOL_F_NUMA_BALANCING: 1 << 13,
  MPOL_F_RELATIVE_NODES: 1 << 14,
  MPOL_F_STATIC_NODES: 1 << 15,
};

/** set_mempolicy's mode (with its flags) and node mask of linux.memoryPolicy. */
export function memPolicy(p: LinuxMemoryPolicy): { mode: number; nodes: Uint8Array | undefined } {
  const mode = valueOf(MPOL_MODE, p.mode, "linux.memoryPolicy.mode", "mode") |
    flagBits(MPOL_FLAG, p.flags ?? [], "linux.memoryPolicy.flags");
  return { mode, nodes: listMask(p.nodes, "linux.memoryPolicy.nodes", "nodes") };
}

/**
 * linux.memoryPolicy: the process's NUMA memory policy (set_mempolicy), which what it forks
 * inherits. The kernel checks the mode against the nodes (MPOL_DEFAULT and MPOL_LOCAL take
 * none) and this host's nodes, and the error names the policy.
 */
function memoryPolicy(b: Builder): void {
  const p = b.spec.linux?.memoryPolicy;
  if (p === undefined) return;
  const { mode, nodes } = memPolicy(p);
  b.call("set_mempolicy", SYS.set_mempolicy, [
    mode,
    nodes ?? null,
    nodes === undefined ? 0 : MASK_BITS + 1,
  ], { subject: `linux.memoryPolicy ${p.mode} ${JSON.stringify(p.nodes)}` });
}

/**
 * process.execCPUAffinity of an exec'd process (an init has none, as the runtime-spec says):
 * `initial` before it joins the container's cgroup, `final` after. An empty or absent list
 * leaves the affinity as it is (after the join: what the container's cpuset gives).
 */
export function execAffinity(b: Builder, which: "initial" | "final"): void {
  const list = b.spec.process?.execCPUAffinity?.[which];
  if (list === undefined) return;
  const mask = listMask(list, `process.execCPUAffinity.${which}`, "CPUs");
  if (mask === undefined) return;
  b.call("sched_setaffinity", SYS.sched_setaffinity, [0, mask.byteLength, mask], {
    subject: `process.execCPUAffinity.${which} ${JSON.stringify(list)}`,
  });
}

/** process.oomScoreAdj, written while /proc/self is still ours. */
export function oomScoreAdj(b: Builder): void {
  const adj = b.spec.process?.oomScoreAdj;
  if (adj === undefined) return;
  const fd = b.call("openat", SYS.openat, [
    AT_FDCWD,
    "/proc/self/oom_score_adj",
    O.WRONLY | O.CLOEXEC,
    0,
  ], { subject: '"/proc/self/oom_score_adj"' });
  const bytes = new TextEncoder().encode(String(adj));
  b.call("write", SYS.write, [fd, bytes, bytes.byteLength], {
    subject: `process.oomScoreAdj ${adj}`,
  });
  b.call("close", SYS.close, [fd]);
}

/**
 * Marks every fd above stdio and the preserved ones close-on-exec. close_range is refused
 * where a seccomp filter the runtime runs under predates it (EPERM) or the kernel lacks it
 * (ENOSYS): then each fd this program holds is marked with fcntl instead (the fds it opens
 * itself are opened close-on-exec).
 */
export function closeOnExec(b: Builder): void {
  const done = "cloexec-done";
  b.call("close_range", SYS.close_range, [
    3 + (b.o.preserveFds?.length ?? 0),
    0xffffffff,
    CLOSE_RANGE_CLOEXEC,
  ], { ok: [E.EPERM, E.ENOSYS], onOkGoto: done, subject: "the runtime's fds (close-on-exec)" });
  const held = new Set<number>([
    b.o.ctlFd,
    ...Object.values(b.o.nsFds ?? {}),
    ...b.o.stdio,
    ...(b.o.preserveFds ?? []),
    ...(b.o.consoleFd !== undefined ? [b.o.consoleFd] : []),
    ...(b.o.exec !== undefined ? [b.o.exec.pidfd] : []),
    ...(b.o.execStubFd !== undefined ? [b.o.execStubFd] : []),
  ]);
  const first = 3 + (b.o.preserveFds?.length ?? 0);
  for (const fd of [...held].filter((fd) => fd >= first).sort((a, b) => a - b)) {
    b.call("fcntl", SYS.fcntl, [fd, F_SETFD, FD_CLOEXEC], {
      ok: [E.EBADF],
      subject: `fd ${fd} (close-on-exec)`,
    });
  }
  b.p.label(done);
}

/** Fails at create time, not start, when the executable does not exist. */
export function exeCheck(b: Builder, candidates: string[], arg0: string): void {
  const found = "exe-found";
  candidates.forEach((c, i) => {
    const last = i === candidates.length - 1;
    b.call("faccessat", SYS.faccessat, [AT_FDCWD, c, 1 /* X_OK */], {
      ...(last ? {} : { ok: [E.ENOENT, E.EACCES] }),
      onOkGoto: found,
      subject: JSON.stringify(c),
      messages: execMessages(arg0),
    });
  });
  b.p.label(found);
}

/** stdio (unless a terminal gives it) and the preserved fds at their numbers. */
export function dupStdio(b: Builder): void {
  if (b.o.consoleFd === undefined) {
    b.o.stdio.forEach((fd, i) => {
      if (fd !== i) b.call("dup2", SYS.dup2, [fd, i], { subject: `stdio ${i}` });
    });
  }
  (b.o.preserveFds ?? []).forEach((fd, i) => {
    if (fd !== 3 + i) b.call("dup2", SYS.dup2, [fd, 3 + i], { subject: `preserved fd ${i}` });
  });
}
