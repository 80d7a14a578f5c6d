/**
 * `deno task bench`'s "where the time goes" section: every runts command of the timed rows run
 * again with `RUNTS_TRACE=FILE` (src/trace.ts), which makes each runts process, the sandbox
 * process included, append its marks with the wall clock. For each command: its wall time, the
 * median of each mark (ms since the command's Deno process started its clock; the sandbox
 * process's marks placed on the same clock by their wall time), and what lies outside the marks
 * (bin/runts and Deno's start before the clock, Deno's exit after the last mark). Beside them, the
 * same measure of `deno run` of an empty file: the floor of one command.
 *
 * And the memory of one idle sandbox process against an idle empty Deno, by kind of mapping.
 * @module
 */

/** One line of a RUNTS_TRACE file. */
export interface TraceLine {
  wall: number;
  pid: number;
  since: number;
  what: string;
}

/** Parses a RUNTS_TRACE file (`<epoch ms> <pid> <ms since start> <what>` per line). */
export function parseTrace(text: string): TraceLine[] {
  const out: TraceLine[] = [];
  for (const l of text.split("\n")) {
    const m = /^(\d+(?:\.\d+)?) (\d+) (\d+(?:\.\d+)?) (.+)$/.exec(l);
    if (m) out.push({ wall: Number(m[1]), pid: Number(m[2]), since: Number(m[3]), what: m[4]! });
  }
  return out;
}

/** One command's run: its pid, when it was spawned and ended (epoch ms), the trace lines. */
export interface CommandRun {
  pid: number;
  spawned: number;
  ended: number;
  lines: TraceLine[];
}

/**
 * The marks of one command on its own clock: its own lines, and the other processes' lines
 * written while it ran (its sandbox process), "ms since it started" by their wall time.
 */
export function marksOf(c: CommandRun): { what: string; at: number; other: boolean }[] {
  const own = c.lines.filter((l) => l.pid === c.pid);
  if (own.length === 0) return [];
  const origin = own[0]!.wall - own[0]!.since;
  return c.lines
    .filter((l) => l.pid === c.pid || (l.wall >= c.spawned && l.wall <= c.ended))
    .map((l) => ({
      what: l.what,
      at: l.pid === c.pid ? l.since : l.wall - origin,
      other: l.pid !== c.pid,
    }));
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** A command's medians over its runs. */
export interface CommandPhases {
  command: string;
  wall: number;
  marks: { what: string; at: number; other: boolean }[];
  runs: number;
}

/**
 * Medians of each mark (in order of their medians) and of the wall time, over the runs. A mark is
 * told apart by its name and by whose it is (the command's, or another process's: a spare
 * sandbox process writes "main" too); in a run, another process's first line of a name counts.
 */
export function summarize(command: string, runs: CommandRun[]): CommandPhases {
  const byKey = new Map<string, { what: string; other: boolean; at: number[] }>();
  for (const r of runs) {
    const seen = new Set<string>();
    for (const m of marksOf(r)) {
      const key = `${m.other}:${m.what}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const e = byKey.get(key) ?? { what: m.what, other: m.other, at: [] };
      e.at.push(m.at);
      byKey.set(key, e);
    }
  }
  // A mark seen in fewer than half the runs (another process's line of another time) is left out.
  const marks = [...byKey.values()].filter((e) => e.at.length * 2 >= runs.length)
    .map((e) => ({ what: e.what, at: median(e.at), other: e.other }))
    .sort((a, b) => a.at - b.at);
  return {
    command,
    wall: median(runs.map((r) => r.ended - r.spawned)),
    marks,
    runs: runs.length,
  };
}

/** Runs argv with RUNTS_TRACE=file; its wall time and trace lines. */
export async function traced(argv: string[], file: string): Promise<CommandRun> {
  Deno.writeTextFileSync(file, "");
  const spawned = performance.timeOrigin + performance.now();
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: { RUNTS_TRACE: file },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const s = await child.status;
  const ended = performance.timeOrigin + performance.now();
  if (!s.success) throw new Error(`${argv.join(" ")}: exit status ${s.code}`);
  return { pid: child.pid, spawned, ended, lines: parseTrace(Deno.readTextFileSync(file)) };
}

/**
 * The section's markdown: one table per operation, its commands one after another. A phase ends
 * at its mark and starts at the row before; "outside the marks" is the wall time less the
 * command's own last mark.
 */
export function phasesMarkdown(
  ops: { label: string; commands: CommandPhases[] }[],
  empty: number,
): string {
  const f = (x: number) => x.toFixed(1);
  const out: string[] = [];
  for (const op of ops) {
    out.push(
      `**${op.label}** (${op.commands[0]?.runs ?? 0} runs):`,
      "",
      "| Command | Mark | ms since the command's start | Phase |",
      "| ------- | ---- | ---------------------------: | ----: |",
    );
    for (const c of op.commands) {
      let prev = 0, ownLast = 0;
      for (const m of c.marks) {
        const who = m.other ? "(other process) " : "";
        if (m.at < 0) {
          out.push(
            `| ${c.command} | ${who}${m.what} (before the command's clock) | ${f(m.at)} | — |`,
          );
          continue;
        }
        out.push(`| ${c.command} | ${who}${m.what} | ${f(m.at)} | ${f(m.at - prev)} |`);
        prev = m.at;
        if (!m.other) ownLast = m.at;
      }
      out.push(
        `| ${c.command} | outside its marks: bin/runts, Deno's start before the clock, Deno's exit after its last mark | | ${
          f(c.wall - ownLast)
        } |`,
        `| ${c.command} | **wall** (an empty file's \`deno run\`: ${f(empty)}; beyond it: ${
          f(c.wall - empty)
        }) | ${f(c.wall)} | |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

/**
 * A process's anonymous memory by kind of mapping, KiB (`Anonymous:` of each mapping in
 * /proc/PID/smaps; smaps_rollup's Pss_Anon is its sum for a process that shares none of it).
 */
export function anonByKind(smaps: string): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = "";
  for (const l of smaps.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(l);
    if (head) {
      const name = head[1]!;
      kind = name === "[heap]"
        ? "malloc heap ([heap])"
        : name === ""
        ? "anonymous mappings (V8 heap, thread arenas and stacks)"
        : name.startsWith("[")
        ? "other ([stack], [vvar], …)"
        : /\/deno$|\/denort$/.test(name)
        ? "the deno binary's written pages"
        : "other files' written pages";
      continue;
    }
    const m = /^Anonymous:\s+(\d+) kB/.exec(l);
    if (m) out[kind] = (out[kind] ?? 0) + Number(m[1]);
  }
  return out;
}

/** The memory table: anonymous memory by kind of mapping, a sandbox process beside an idle Deno. */
export function memoryMarkdown(sandbox: Record<string, number>, idle: Record<string, number>) {
  const kinds = [...new Set([...Object.keys(sandbox), ...Object.keys(idle)])].sort();
  const mib = (kb: number | undefined) => ((kb ?? 0) / 1024).toFixed(2);
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return [
    "| Anonymous memory, by mapping | sandbox process, 1 idle container (MiB) | idle empty Deno, same V8 flags (MiB) | difference |",
    "| ------------------- | --------------------------------------: | --------------------: | ---------: |",
    ...kinds.map((k) =>
      `| ${k} | ${mib(sandbox[k])} | ${mib(idle[k])} | ${mib((sandbox[k] ?? 0) - (idle[k] ?? 0))} |`
    ),
    `| **total** | ${mib(sum(sandbox))} | ${mib(sum(idle))} | ${mib(sum(sandbox) - sum(idle))} |`,
  ].join("\n");
}
