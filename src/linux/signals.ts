/**
 * Signal names and numbers (x86_64 / generic Linux).
 * @module
 */

/** Signal numbers by name without the SIG prefix. */
export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/**
 * Parses a signal as `runc kill` takes it: "TERM", "SIGTERM", "sigterm", "15", "RTMIN+3".
 * Throws naming the value when it is not a signal.
 */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
    throw new Error(`invalid signal ${JSON.stringify(s)}`);
  }
  const name = s.toUpperCase().replace(/^SIG/, "");
  const known = SIGNALS[name];
  if (known !== undefined) return known;
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(name) ?? /^RTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    const n = name.startsWith("RTMIN") ? 34 + off : 64 - off;
    if (n >= 34 && n <= 64) return n;
  }
  throw new Error(`invalid signal ${JSON.stringify(s)}`);
}

/** SIGKILL, the one signal a process cannot catch. */
export const SIGKILL = 9;

/**
 * Signals a foreground `run` or `exec` passes on to the process it waits for, with their
 * numbers.
 */
export const FORWARDED_SIGNALS: readonly (readonly [Deno.Signal, number])[] = (
  ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const
).map((s) => [s, SIGNALS[s.slice(3)]!] as const);

/** Reads the SigIgn mask of this process: those signals would stay ignored after execve. */
export function ignoredSignals(): number[] {
  const status = Deno.readTextFileSync("/proc/self/status");
  const hex = /^SigIgn:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? "0";
  const mask = BigInt("0x" + hex);
  const out: number[] = [];
  for (let i = 1; i <= 64; i++) if (mask & (1n << BigInt(i - 1))) out.push(i);
  return out;
}

/**
 * Every signal whose disposition can be changed (all but SIGKILL and SIGSTOP). A container's
 * process sets each back to SIG_DFL before execve: what the process that cloned it ignored
 * (Deno ignores SIGPIPE) never reaches the container, and the program does not depend on which
 * runts process builds it (`debug plan` prints what the sandbox process runs).
 */
export const CATCHABLE_SIGNALS: readonly number[] = Array.from({ length: 64 }, (_, i) => i + 1)
  .filter((s) => s !== SIGKILL && s !== 19);
