/**
 * `runts ps [--format table|json] ID [ps options]`: the container's processes. json is an array
 * of host pids (what containerd's `top` reads); table is like `ps -ef`, or ps(1) run with the
 * options after the id and limited to the container's processes (as runc does).
 * @module
 */
import { parseCommandArgs } from "./defs.ts";
import { containerPids, readProcStat } from "../linux/procs.ts";
import { currentStatus, loadContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";

const TICKS = 100;

/** uid → user name from the host's /etc/passwd. */
export function userNames(): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f.length > 2) m.set(Number(f[2]), f[0]!);
    }
  } catch {
    // numeric uids then
  }
  return m;
}

function hms(ticks: number): string {
  const s = Math.floor(ticks / TICKS);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}`;
}

/** One `ps -ef` row for a pid, or undefined when it is gone. */
export function psRow(
  pid: number,
  names: Map<number, string>,
  bootMs: number,
): string[] | undefined {
  const st = readProcStat(pid);
  if (st === undefined) return undefined;
  let uid = 0;
  let cmd = `[${st.comm}]`;
  let cpu = 0;
  try {
    uid = Number(/^Uid:\s+(\d+)/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1] ?? 0);
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter((a) => a);
    if (argv.length) cmd = argv.join(" ");
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    cpu = Number(rest[11]) + Number(rest[12]);
  } catch {
    // exited meanwhile: keep what we have
  }
  const started = new Date(bootMs + (Number(st.startTime) / TICKS) * 1000);
  const stime = `${String(started.getHours()).padStart(2, "0")}:${
    String(started.getMinutes()).padStart(2, "0")
  }`;
  return [
    names.get(uid) ?? String(uid),
    String(pid),
    String(st.ppid),
    "0",
    stime,
    "?",
    hms(cpu),
    cmd,
  ];
}

/** Parsed arguments of ps. */
export interface PsArgs {
  /** The container id. */
  id: string;
  /** Output format. */
  format: "table" | "json";
  /** Options for ps(1), after the id (runc's `runc ps ID -e -x`); empty: runts' own -ef. */
  psOptions: string[];
}

/** Parses ps's arguments: flags, the id, then options that go to ps(1). */
export function parsePsArgs(argv: string[]): PsArgs {
  const { values, positionals } = parseCommandArgs("ps", argv);
  const format = values.format as string;
  if (format !== "table" && format !== "json") {
    throw new Error(`ps: --format must be "table" or "json", not ${JSON.stringify(format)}`);
  }
  return { id: positionals[0]!, format, psOptions: positionals.slice(1) };
}

/**
 * The lines of ps(1)'s output that belong to `pids`: the header, then each row whose PID
 * column is one of them (runc's filter).
 *
 * @throws {Error} when the output has no PID column.
 */
export function filterPsOutput(out: string, pids: readonly number[]): string[] {
  const lines = out.split("\n").filter((l) => l !== "");
  const header = lines[0] ?? "";
  const col = header.trim().split(/\s+/).indexOf("PID");
  if (col < 0) {
    throw new Error(`ps: the output of ps(1) has no PID column: ${JSON.stringify(header)}`);
  }
  const want = new Set(pids);
  return [
    header,
    ...lines.slice(1).filter((l) => want.has(Number(l.trim().split(/\s+/)[col]))),
  ];
}

/** Runs ps(1) with the caller's options (found without PATH: callers may give none). */
async function runPs(options: string[]): Promise<string> {
  let bin = "ps";
  for (const p of ["/usr/bin/ps", "/bin/ps"]) {
    try {
      Deno.statSync(p);
      bin = p;
      break;
    } catch {
      // next
    }
  }
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(bin, { args: options, stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    throw new Error(`ps: running ps(1): ${(e as Error).message}`);
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`ps: ps ${options.join(" ")} failed: ${err || `status ${out.code}`}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Runs ps. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const a = parsePsArgs(argv);
  const { rec } = loadContainer(g, a.id);
  const status = currentStatus(rec);
  const pids = status === "stopped" ? [] : containerPids(rec.pid);
  if (a.format === "json") {
    console.log(JSON.stringify(pids));
    return 0;
  }
  if (a.psOptions.length) {
    for (const l of filterPsOutput(await runPs(a.psOptions), pids)) console.log(l);
    return 0;
  }
  const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  const bootMs = Date.now() - uptime * 1000;
  const names = userNames();
  const rows = [["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]];
  for (const pid of pids) {
    const r = psRow(pid, names, bootMs);
    if (r) rows.push(r);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) {
    console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join(" "));
  }
  return 0;
}
