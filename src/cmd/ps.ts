/**
 * `runts ps [--format table|json] ID`: the container's processes. json is an array of host
 * pids (what containerd's `top` reads); table is like `ps -ef`.
 * @module
 */
import { parseArgs } from "node:util";
import { containerPids, readProcStat } from "../linux/procs.ts";
import { Container } from "../container/container.ts";
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

/** Runs ps. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { format: { type: "string", short: "f" } },
    allowPositionals: true,
    strict: true,
  });
  const format = values.format ?? "table";
  if (format !== "table" && format !== "json") {
    throw new Error(`ps: --format must be "table" or "json", not ${JSON.stringify(format)}`);
  }
  const id = positionals[0];
  if (id === undefined) throw new Error("ps: container id is required");
  const c = Container.load(g, id);
  const pids = c.status() === "stopped" ? [] : containerPids(c.rec.pid);
  if (format === "json") {
    console.log(JSON.stringify(pids));
    return Promise.resolve(0);
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
  return Promise.resolve(0);
}
