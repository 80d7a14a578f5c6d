/**
 * `deno task bench`: runts against runc and crun on this machine, with hyperfine.
 *
 * Rows: `run` of /bin/true; create + start + state until stopped + delete; `exec` of /bin/true
 * into a running container; `state` of a running container; the PSS runts keeps resident per idle
 * container (1, 10, 50 containers); 50 containers created and started, one after another and 2 at
 * a time. hyperfine runs every run of one command before the next command, so each row is split
 * into rounds (one hyperfine invocation with the three runtimes per round, order rotated) and the
 * runtimes alternate round by round; the times of all rounds are pooled.
 *
 * Writes docs/benchmarks.md and docs/benchmarks.svg after a full run (not with --quick or --only,
 * unless --write is given) and prints the table. Needs root. Every container it makes lives under
 * a temporary --root per runtime and is deleted with `delete --force` at the end, also when
 * interrupted.
 *
 *   deno task bench [--quick] [--only run,lifecycle,exec,state,memory,throughput] [--write]
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  anonByKind,
  type CommandPhases,
  type CommandRun,
  memoryMarkdown,
  phasesMarkdown,
  summarize,
  traced,
} from "./bench_phases.ts";

const REPO = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const RUNTS = `${REPO}/bin/runts`;
const ROOTFS = `${REPO}/build/bundle/rootfs`;
const DOC = `${REPO}/docs/benchmarks.md`;
const SVG = `${REPO}/docs/benchmarks.svg`;
const NS_ENV = "RUNTS_BENCH_IN_MOUNT_NS";

type RtName = "runc" | "crun" | "runts";
const RT_NAMES: readonly RtName[] = ["runc", "crun", "runts"];
const ROW_KEYS = [
  "run",
  "lifecycle",
  "exec",
  "state",
  "memory",
  "throughput",
  "phases",
] as const;
/** The start row (always measured: every floor is computed from it). */
type Key = RowKey | "start";
type RowKey = typeof ROW_KEYS[number];

interface Runtime {
  name: RtName;
  /** The binary and its global options (crun: --cgroup-manager=disabled). */
  argv: string[];
  root: string;
  version: string;
}

interface Cell {
  /** Samples: ms, s or MiB. */
  values: number[];
  /** The main figure when it is not the median of values (memory: the per-container mean). */
  main?: number;
  /** Shown instead of numbers (runc/crun memory: nothing resident). */
  text?: string;
  error?: string;
}

interface Row {
  key: Key;
  label: string;
  unit: "ms" | "s" | "MiB";
  cells: Record<RtName, Cell>;
  samples: string;
  /** runts ran at least partly from main.ts instead of the bundle (sources changed mid-row). */
  unbundled?: boolean;
  /**
   * Time rows: how many runts commands the operation invokes, for its floor: (Deno start of an
   * empty file − runc --version) × commands + runc's time for the same operation.
   */
  commands?: number;
  /** Memory rows: the target runts is held to, in the floor column. */
  target?: number;
}

interface Plan {
  rounds: number;
  runs: number;
  warmup: number;
  batchN: number;
  batchRounds: number;
  memCounts: number[];
}

const FULL: Plan = {
  rounds: 4,
  runs: 5,
  warmup: 3,
  batchN: 50,
  batchRounds: 3,
  memCounts: [1, 10, 50],
};
const QUICK: Plan = {
  rounds: 1,
  runs: 5,
  warmup: 1,
  batchN: 10,
  batchRounds: 1,
  memCounts: [1, 10],
};

// --- processes and signals -------------------------------------------------------------------

const children = new Set<Deno.ChildProcess>();
let stopping: string | null = null;

class Interrupted extends Error {}

function checkStop(): void {
  if (stopping !== null) throw new Interrupted(`interrupted by ${stopping}`);
}

function onSignal(sig: Deno.Signal): void {
  if (stopping !== null) return;
  stopping = sig;
  console.error(`bench: ${sig}: stopping, then deleting every container made`);
  for (const c of children) {
    try {
      c.kill("SIGTERM");
    } catch { /* already gone */ }
  }
}

interface Out {
  code: number;
  out: string;
  err: string;
}

/**
 * Runs argv; output captured unless inherit. timeoutMs kills it (code 124). Output goes through a
 * file, not a pipe: a container made by `create` inherits the runtime's stdout and stderr and
 * would hold a pipe open for its whole life.
 */
async function run(
  argv: string[],
  opts: { inherit?: boolean; cwd?: string; timeoutMs?: number } = {},
): Promise<Out> {
  const log = opts.inherit ? "" : Deno.makeTempFileSync({ prefix: "runts-bench-out-" });
  const full = opts.inherit ? argv : ["sh", "-c", 'exec "$@" >"$0.out" 2>"$0.err"', log, ...argv];
  const child = new Deno.Command(full[0]!, {
    args: full.slice(1),
    stdin: "null",
    stdout: opts.inherit ? "inherit" : "null",
    stderr: opts.inherit ? "inherit" : "null",
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
  }).spawn();
  children.add(child);
  let timedOut = false;
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs);
  try {
    const s = await child.status;
    const code = timedOut ? 124 : s.code;
    if (opts.inherit) return { code, out: "", err: "" };
    const read = (p: string) => {
      try {
        return Deno.readTextFileSync(p);
      } catch {
        return "";
      }
    };
    return { code, out: read(`${log}.out`), err: read(`${log}.err`) };
  } finally {
    clearTimeout(timer);
    children.delete(child);
    if (log) {
      for (const p of [log, `${log}.out`, `${log}.err`]) {
        try {
          Deno.removeSync(p);
        } catch { /* not made */ }
      }
    }
  }
}

function which(name: string): string | null {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/usr/bin", "/sbin"]);
  for (const d of dirs) {
    if (d === "") continue;
    try {
      const p = `${d}/${name}`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
const shellJoin = (argv: string[]): string => argv.map(shellQuote).join(" ");

function firstLine(s: string): string {
  return s.trim().split("\n")[0]?.trim() ?? "";
}

function errText(o: Out): string {
  const t = (o.err.trim() || o.out.trim()).split("\n").slice(-3).join(" / ");
  return `exit ${o.code}${t ? `: ${t}` : ""}`.slice(0, 300);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- setup -----------------------------------------------------------------------------------

async function ensureTools(): Promise<void> {
  if (which("runc") && which("crun") && which("hyperfine")) return;
  console.error("bench: runc, crun or hyperfine missing: bash scripts/setup.sh bench");
  const o = await run(["bash", `${REPO}/scripts/setup.sh`, "bench"], { inherit: true });
  if (o.code !== 0) throw new Error("scripts/setup.sh bench failed");
}

/**
 * What bin/runts decides: the bundle (build/runts/main.js) is used while none of the sources it was
 * made from (build/runts/sources.sh lists them) is newer.
 */
function bundleFresh(): boolean {
  try {
    const t = Deno.statSync(`${REPO}/build/runts/main.js`).mtime?.getTime() ?? 0;
    const list = /^fresh (.*)$/m.exec(Deno.readTextFileSync(`${REPO}/build/runts/sources.sh`));
    if (!list) return false;
    return list[1]!.split(" ").every((f) => {
      try {
        return (Deno.statSync(`${REPO}/${f}`).mtime?.getTime() ?? 0) <= t;
      } catch {
        return true;
      }
    });
  } catch {
    return false;
  }
}

/** Bundles main.ts into build/runts/ (scripts/bundle.sh, as scripts/setup.sh does) when stale. */
async function ensureBundle(): Promise<void> {
  if (bundleFresh()) return;
  const o = await run(["bash", `${REPO}/scripts/bundle.sh`], { cwd: REPO });
  if (o.code !== 0) console.error(`bench: deno bundle failed (${errText(o)}); runts runs main.ts`);
}

/**
 * crun 1.8.1 refuses to run anything on a hybrid cgroup host whose cgroup2 hierarchy has
 * controllers ("cgroups in hybrid mode not supported"), whatever --cgroup-manager says.
 */
function crunRefusesHybrid(): boolean {
  try {
    Deno.statSync("/sys/fs/cgroup/cgroup.controllers");
    return false; // pure cgroup2
  } catch { /* not pure cgroup2 */ }
  try {
    return Deno.readTextFileSync("/sys/fs/cgroup/unified/cgroup.controllers").trim() !== "";
  } catch {
    return false;
  }
}

/** Runs this script again in a private mount namespace (util-linux unshare) and exits. */
async function reexecInMountNs(): Promise<never> {
  const unshare = which("unshare");
  if (!unshare) throw new Error("unshare (util-linux) not found");
  const child = new Deno.Command(unshare, {
    args: [
      "--mount",
      "--propagation",
      "private",
      Deno.execPath(),
      "run",
      "-A",
      "--no-config",
      new URL(import.meta.url).pathname,
      ...Deno.args,
    ],
    env: { [NS_ENV]: "1" },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // A terminal's ^C reaches the child directly; forward what is sent to this process alone.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(sig, () => {
      try {
        child.kill(sig === "SIGINT" ? "SIGINT" : "SIGTERM");
      } catch { /* gone */ }
    });
  }
  Deno.exit((await child.status).code);
}

// --- bundles and helper scripts --------------------------------------------------------------

const LIFE_SH = `# usage: life.sh BUNDLE ROOT ID RUNTIME [GLOBAL OPTIONS...]
# create, start, poll state until stopped, delete: the same script for every runtime.
bundle=$1 root=$2 id=$3
shift 3
"$@" --root "$root" create --bundle "$bundle" "$id" || exit 1
"$@" --root "$root" start "$id" || exit 1
i=0
while :; do
  s=$("$@" --root "$root" state "$id") || exit 1
  case $s in *'"stopped"'*) break ;; esac
  i=$((i + 1))
  [ "$i" -lt 1000 ] || exit 1
done
"$@" --root "$root" delete "$id"
`;

const BATCH_SH = `# usage: batch.sh N PAR BUNDLE ROOT RUNTIME [GLOBAL OPTIONS...]
# create + start containers b1..bN, PAR lanes at a time (lane k does k, k+PAR, ...).
n=$1 par=$2 bundle=$3 root=$4
shift 4
lane() {
  i=$1
  shift
  while [ "$i" -le "$n" ]; do
    "$@" --root "$root" create --bundle "$bundle" "b$i" || exit 1
    "$@" --root "$root" start "b$i" || exit 1
    i=$((i + par))
  done
}
pids=
l=1
while [ "$l" -le "$par" ]; do
  lane "$l" "$@" &
  pids="$pids $!"
  l=$((l + 1))
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
exit $rc
`;

const CLEAN_SH =
  `# usage: clean.sh ROOT RUNTIME [GLOBAL OPTIONS...]: delete --force every container in ROOT.
root=$1
shift
for d in "$root"/*/; do
  [ -d "$d" ] || continue
  id=\${d%/}
  id=\${id##*/}
  "$@" --root "$root" delete --force "$id" >/dev/null 2>&1
done
exit 0
`;

/** Docker's device rules: deny all, then mknod of any, and the default devices. */
const DEVICES = [
  { allow: false, access: "rwm" },
  { allow: true, type: "c", access: "m" },
  { allow: true, type: "b", access: "m" },
  ...[[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2]].map(([major, minor]) => ({
    allow: true,
    type: "c",
    major,
    minor,
    access: "rwm",
  })),
  { allow: true, type: "c", major: 136, access: "rwm" },
];

/**
 * config.json from `runc spec` (ociVersion 1.0.2-dev: crun 1.8.1 refuses 1.2.0); with devices,
 * `runc spec`'s deny-all device rule gets Docker's allow rules for the default devices.
 */
async function writeBundle(dir: string, args: string[], devices = true): Promise<void> {
  Deno.mkdirSync(dir, { recursive: true });
  const o = await run([which("runc")!, "spec", "--bundle", dir]);
  if (o.code !== 0) throw new Error(`runc spec: ${errText(o)}`);
  const path = `${dir}/config.json`;
  const spec = JSON.parse(Deno.readTextFileSync(path));
  spec.process.terminal = false;
  spec.process.args = args;
  spec.root = { path: ROOTFS, readonly: true };
  if (spec.linux) delete spec.linux.cgroupsPath;
  if (devices && spec.linux) spec.linux.resources = { ...spec.linux.resources, devices: DEVICES };
  Deno.writeTextFileSync(path, JSON.stringify(spec, null, "\t") + "\n");
}

// --- statistics and formatting ---------------------------------------------------------------

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function mainValue(c: Cell): number | undefined {
  if (c.error !== undefined) return undefined;
  if (c.main !== undefined) return c.main;
  return c.values.length ? median(c.values) : undefined;
}

function fmt(v: number, unit: Row["unit"]): string {
  if (unit === "s") return v.toFixed(2);
  if (unit === "MiB") return v.toFixed(1);
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

function cellText(c: Cell, unit: Row["unit"]): string {
  if (c.error !== undefined) return "failed";
  if (c.text !== undefined) return c.text;
  const m = mainValue(c);
  if (m === undefined) return "—";
  const lo = Math.min(...c.values), hi = Math.max(...c.values);
  return `${fmt(m, unit)} ${unit} (${fmt(lo, unit)}–${fmt(hi, unit)})`;
}

function ratioText(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return "—";
  return `${(a / b).toFixed(a / b < 10 ? 2 : 1)}×`;
}

function ratio(row: Row, other: RtName): string {
  return ratioText(mainValue(row.cells.runts), mainValue(row.cells[other]));
}

/** The Deno start of an empty file and runc --version (ms), from the start row. */
interface Start {
  deno: number;
  runc: number;
}

/** The floor of a time row (its unit), or a memory row's target. */
function floorOf(row: Row, start: Start | undefined): number | undefined {
  if (row.target !== undefined) return row.target;
  const runc = mainValue(row.cells.runc);
  if (row.commands === undefined || start === undefined || runc === undefined) return undefined;
  const per = (start.deno - start.runc) * (row.unit === "s" ? 1 / 1000 : 1);
  return per * row.commands + runc;
}

function floorText(row: Row, start: Start | undefined): string {
  const f = floorOf(row, start);
  if (f === undefined) return "—";
  return row.target !== undefined
    ? `≤ ${fmt(f, row.unit)} ${row.unit}`
    : `${fmt(f, row.unit)} ${row.unit}`;
}

function floorRatio(row: Row, start: Start | undefined): string {
  return ratioText(mainValue(row.cells.runts), floorOf(row, start));
}

function table(rows: Row[], start: Start | undefined): string {
  const head = ["Row", "runc", "crun", "runts", "floor", "runts/floor", "runts/runc", "runts/crun"];
  const body = rows.map((r) => [
    r.label + (r.unbundled ? " †" : ""),
    ...RT_NAMES.map((n) => cellText(r.cells[n], r.unit)),
    floorText(r, start),
    floorRatio(r, start),
    ratio(r, "runc"),
    ratio(r, "crun"),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(w[i]!)).join(" | ")} |`;
  return [line(head), `| ${w.map((n) => "-".repeat(n)).join(" | ")} |`, ...body.map(line)]
    .join("\n");
}

function xml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

const COLORS: Record<RtName, string> = { runc: "#4e79a7", crun: "#59a14f", runts: "#e15759" };
const FLOOR_COLOR = "#b0b0b0";

/**
 * Bar chart: one panel per row, its own scale; bars are medians, whiskers min–max; a grey bar
 * is the row's floor (memory: the target).
 */
function chart(rows: Row[], subtitle: string, start: Start | undefined): string {
  const W = 980, x0 = 80, area = 600, barH = 16, gap = 4, titleH = 22, panelGap = 14;
  const top = 80;
  const h = top + rows.length * (titleH + 4 * (barH + gap) + panelGap) + 10;
  const o: string[] = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${h}" fill="#ffffff"/>`,
    `<text x="20" y="24" font-size="16" font-weight="bold">runts vs runc vs crun and the floor: medians (bars), min–max (lines); shorter is better</text>`,
    `<text x="20" y="44" fill="#555">${xml(subtitle)}</text>`,
  );
  let lx = 20;
  for (const n of RT_NAMES) {
    o.push(
      `<rect x="${lx}" y="54" width="12" height="12" fill="${COLORS[n]}"/>`,
      `<text x="${lx + 16}" y="64">${n}</text>`,
    );
    lx += 70;
  }
  o.push(
    `<rect x="${lx}" y="54" width="12" height="12" fill="${FLOOR_COLOR}"/>`,
    `<text x="${
      lx + 16
    }" y="64">floor: (Deno start − runc start) × runts commands + runc; memory: target</text>`,
  );
  let y = top;
  for (const r of rows) {
    o.push(
      `<text x="20" y="${y + 15}" font-weight="bold">${
        xml(`${r.label} (${r.unit})${r.unbundled ? " †" : ""}`)
      }</text>`,
    );
    y += titleH;
    const floor = floorOf(r, start);
    const mains = [...RT_NAMES.map((n) => mainValue(r.cells[n]) ?? 0), floor ?? 0];
    const scale = Math.max(...mains) > 0 ? (area * 0.8) / Math.max(...mains) : 0;
    for (const n of RT_NAMES) {
      const c = r.cells[n];
      const m = mainValue(c);
      o.push(`<text x="${x0 - 8}" y="${y + barH - 4}" text-anchor="end">${n}</text>`);
      let end = x0;
      if (m !== undefined && c.text === undefined) {
        const bw = Math.max(1, m * scale);
        o.push(
          `<rect x="${x0}" y="${y}" width="${bw.toFixed(1)}" height="${barH}" fill="${
            COLORS[n]
          }"/>`,
        );
        end = x0 + bw;
        if (c.values.length > 1) {
          const lo = Math.min(x0 + area, x0 + Math.min(...c.values) * scale);
          const hi = Math.min(x0 + area, x0 + Math.max(...c.values) * scale);
          const my = y + barH / 2;
          o.push(
            `<line x1="${lo.toFixed(1)}" y1="${my}" x2="${
              hi.toFixed(1)
            }" y2="${my}" stroke="#222" stroke-width="1.2"/>`,
            `<line x1="${lo.toFixed(1)}" y1="${my - 4}" x2="${lo.toFixed(1)}" y2="${
              my + 4
            }" stroke="#222"/>`,
            `<line x1="${hi.toFixed(1)}" y1="${my - 4}" x2="${hi.toFixed(1)}" y2="${
              my + 4
            }" stroke="#222"/>`,
          );
          end = Math.max(end, hi);
        }
      }
      let label = c.error !== undefined
        ? "failed"
        : c.text ?? (m === undefined ? "—" : `${fmt(m, r.unit)} ${r.unit}`);
      if (n === "runts" && c.error === undefined) {
        const a = ratio(r, "runc"), b = ratio(r, "crun"), f = floorRatio(r, start);
        if (a !== "—" || b !== "—") {
          label += `  (${f === "—" ? "" : `${f} floor, `}${a} runc, ${b} crun)`;
        }
      }
      o.push(`<text x="${(end + 6).toFixed(1)}" y="${y + barH - 4}">${xml(label)}</text>`);
      y += barH + gap;
    }
    if (floor !== undefined) {
      const bw = Math.max(1, floor * scale);
      o.push(
        `<text x="${x0 - 8}" y="${y + barH - 4}" text-anchor="end">${
          r.target !== undefined ? "target" : "floor"
        }</text>`,
        `<rect x="${x0}" y="${y}" width="${
          bw.toFixed(1)
        }" height="${barH}" fill="${FLOOR_COLOR}"/>`,
        `<text x="${(x0 + bw + 6).toFixed(1)}" y="${y + barH - 4}">${
          xml(floorText(r, start))
        }</text>`,
      );
    }
    y += barH + gap;
    y += panelGap;
  }
  o.push("</svg>");
  return o.join("\n") + "\n";
}

// --- main ------------------------------------------------------------------------------------

async function main(): Promise<number> {
  // runts is measured with its spare sandbox process (src/sandbox/spare.ts), which is opt-in.
  Deno.env.set("RUNTS_SPARE", "1");
  const { values: flags } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      only: { type: "string" },
      write: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      kvm: { type: "boolean" },
    },
    strict: true,
  });
  // KVM VMM core through FFI vs the same loop in C (issue 17): its own table, printed.
  if (flags.kvm) return await (await import("./bench_kvm.ts")).mainKvm();
  if (flags.help) {
    console.log(
      "usage: deno task bench [--quick] [--only " + ROW_KEYS.join(",") + "] [--write]\n" +
        "  --quick  fewer runs and smaller batches (to try it)\n" +
        "  --only   the rows to measure, comma-separated\n" +
        "  --write  write docs/benchmarks.md and .svg even with --quick or --only\n" +
        "  --kvm    only the KVM benchmark (Deno FFI vs C), printed as a table",
    );
    return 0;
  }
  const only = flags.only === undefined
    ? [...ROW_KEYS]
    : flags.only.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const k of only) {
    if (!(ROW_KEYS as readonly string[]).includes(k)) {
      console.error(`bench: unknown row ${JSON.stringify(k)} (rows: ${ROW_KEYS.join(", ")})`);
      return 2;
    }
  }
  const want = (k: RowKey) => only.includes(k);
  const plan = flags.quick ? QUICK : FULL;
  const write = flags.write === true || (!flags.quick && flags.only === undefined);

  if (Deno.uid() !== 0) {
    console.error("bench: needs root (containers are made with runc, crun and runts)");
    return 1;
  }
  const inNs = Deno.env.get(NS_ENV) === "1";
  if (!inNs) {
    await ensureTools();
    const r = await run(["bash", `${REPO}/scripts/rootfs.sh`, `${REPO}/build/bundle`]);
    if (r.code !== 0) throw new Error(`scripts/rootfs.sh: ${errText(r)}`);
    if (crunRefusesHybrid()) await reexecInMountNs();
  }
  let cgroupNote = "";
  if (inNs) {
    const u = await run(["umount", "/sys/fs/cgroup/unified"]);
    if (u.code !== 0) throw new Error(`umount /sys/fs/cgroup/unified: ${errText(u)}`);
    cgroupNote = "This host mounts cgroup v1 controllers plus a cgroup2 hierarchy at " +
      "/sys/fs/cgroup/unified that has controllers (hybrid); crun 1.8.1 refuses to run " +
      "anything there (`cgroups in hybrid mode not supported`), even with " +
      "`--cgroup-manager=disabled`. So the script runs itself in a private mount namespace " +
      "(`unshare --mount`) with /sys/fs/cgroup/unified unmounted: all three runtimes see a " +
      "cgroup v1 host. Nothing changes outside that namespace.";
  }
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(sig, () => onSignal(sig));
  }
  await ensureBundle();

  const hf = which("hyperfine")!;
  const tmp = await Deno.makeTempDir({ prefix: "runts-bench-" });
  const bin: Record<RtName, string[]> = {
    runc: [which("runc")!],
    crun: [which("crun")!, "--cgroup-manager=disabled"],
    runts: [RUNTS],
  };
  const rts: Runtime[] = [];
  for (const name of RT_NAMES) {
    const root = `${tmp}/root-${name}`;
    Deno.mkdirSync(root);
    const v = await run([bin[name][0]!, "--version"]);
    rts.push({ name, argv: bin[name], root, version: firstLine(v.out) || errText(v) });
  }
  const cmd = (rt: Runtime, ...args: string[]) => [...rt.argv, "--root", rt.root, ...args];
  const lifeSh = `${tmp}/life.sh`, batchSh = `${tmp}/batch.sh`, cleanSh = `${tmp}/clean.sh`;
  Deno.writeTextFileSync(lifeSh, LIFE_SH);
  Deno.writeTextFileSync(batchSh, BATCH_SH);
  Deno.writeTextFileSync(cleanSh, CLEAN_SH);
  const bTrue = `${tmp}/bundle-true`, bSleep = `${tmp}/bundle-sleep`;

  const head = firstLine((await run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])).out);
  const hfVersion = firstLine((await run([hf, "--version"])).out);
  const cpuModel = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ??
    "";
  const started = new Date();
  const load0 = Deno.loadavg();
  const rows: Row[] = [];
  const odd: string[] = [];
  const cgroups: string[] = [];
  let plainNote = "";

  const cleanRoot = async (rt: Runtime) => {
    await run(["sh", cleanSh, rt.root, ...rt.argv], { timeoutMs: 600_000 });
  };
  const emptyCells = (): Record<RtName, Cell> => ({
    runc: { values: [] },
    crun: { values: [] },
    runts: { values: [] },
  });
  const say = (s: string) => console.error(`bench: ${s}`);

  /**
   * One row with hyperfine: `rounds` invocations with the three runtimes, order rotated, each
   * with --warmup and --runs; times pooled. A runtime whose probe fails is left out and its error
   * reported. unit "ms" converts hyperfine's seconds.
   */
  const hyperRow = async (
    key: Key,
    label: string,
    unit: Row["unit"],
    argvOf: (rt: Runtime) => string[],
    o: {
      rounds: number;
      runs: number;
      warmup: number;
      prepareOf?: (rt: Runtime) => string[];
      probe?: (rt: Runtime) => Promise<Out>;
    },
  ): Promise<Row> => {
    const row: Row = {
      key,
      label,
      unit,
      cells: emptyCells(),
      samples: `${o.rounds * o.runs} run${
        o.rounds * o.runs > 1 ? "s" : ""
      } per runtime (${o.rounds} round${
        o.rounds > 1 ? "s" : ""
      } × ${o.runs}, warm-up ${o.warmup} per round)`,
    };
    say(`${label}: ${row.samples}`);
    await ensureBundle();
    let live: Runtime[] = [];
    for (const rt of rts) {
      checkStop();
      const p = o.probe ? await o.probe(rt) : await run(argvOf(rt), { timeoutMs: 120_000 });
      if (p.code === 0) live.push(rt);
      else row.cells[rt.name].error = errText(p);
    }
    const scale = unit === "ms" ? 1000 : 1;
    for (let r = 0; r < o.rounds && live.length > 0; r++) {
      checkStop();
      const order = live.map((_, i) => live[(i + r) % live.length]!);
      const json = `${tmp}/hyperfine-${key}-${r}.json`;
      const args = [hf, "-N", "-i", "--style", "none", "--warmup", String(o.warmup)];
      args.push("--runs", String(o.runs), "--export-json", json);
      if (o.prepareOf) {
        for (const rt of order) args.push("--prepare", shellJoin(o.prepareOf(rt)));
      }
      for (const rt of order) args.push(shellJoin(argvOf(rt)));
      const h = await run(args, { timeoutMs: 3_600_000 });
      checkStop();
      if (h.code !== 0) throw new Error(`hyperfine (${label}): ${errText(h)}`);
      const res = JSON.parse(Deno.readTextFileSync(json)).results as {
        times: number[];
        exit_codes: (number | null)[];
      }[];
      const failed: Runtime[] = [];
      order.forEach((rt, i) => {
        const x = res[i]!;
        const cell = row.cells[rt.name];
        x.times.forEach((t, j) => {
          if (x.exit_codes[j] === 0) cell.values.push(t * scale);
        });
        const bad = x.exit_codes.filter((c) => c !== 0).length;
        if (bad > 0) {
          cell.error = `${bad} of ${x.exit_codes.length} runs in round ${r + 1} failed`;
          failed.push(rt);
        }
      });
      live = live.filter((rt) => !failed.includes(rt));
    }
    for (const rt of rts) {
      const c = row.cells[rt.name];
      if (c.error !== undefined) odd.push(`${label}: ${rt.name} failed: ${c.error}`);
    }
    if (!bundleFresh()) row.unbundled = true;
    return row;
  };

  const phases: { label: string; commands: CommandPhases[] }[] = [];
  let phasesEmpty = NaN;
  let memoryPhases = "";
  let code = 0;
  let measureStartAgain: (() => Promise<void>) | undefined;
  try {
    await writeBundle(bTrue, ["/bin/true"]);
    await writeBundle(bSleep, ["sleep", "1000"]);
    {
      // Does runts run `runc spec`'s config as it is (deny-all device rule only)?
      const plain = `${tmp}/bundle-plain`;
      await writeBundle(plain, ["/bin/true"], false);
      const runts = rts.find((r) => r.name === "runts")!;
      const o = await run(cmd(runts, "run", "--bundle", plain, "bench-plain"), {
        timeoutMs: 60_000,
      });
      plainNote = o.code === 0
        ? "runts also runs `runc spec`'s config as it is (deny-all device rule alone)."
        : `runts fails \`run\` of \`runc spec\`'s config as it is (deny-all device rule alone; ` +
          `runc and crun add the default devices themselves): ${errText(o)}.`;
      if (o.code !== 0) odd.push(plainNote);
    }

    // The floor's parts: a Deno start of an empty file (as bin/runts starts Deno) and runc's
    // start, measured before the rows and again after them, pooled.
    const empty = `${tmp}/empty.js`;
    Deno.writeTextFileSync(empty, "");
    const denoBin = (() => {
      try {
        return Deno.statSync(`${REPO}/.deno/bin/deno`).isFile ? `${REPO}/.deno/bin/deno` : "";
      } catch {
        return "";
      }
    })() || Deno.execPath();
    const startArgv = (rt: Runtime) =>
      rt.name === "runts"
        ? [denoBin, "run", "-A", "--no-config", "--quiet", "--no-prompt", "--no-lock", empty]
        : [rt.argv[0]!, "--version"];
    const startRow = await hyperRow(
      "start",
      "start: `--version` (runts column: `deno run` of an empty file)",
      "ms",
      startArgv,
      plan,
    );
    rows.push(startRow);
    measureStartAgain = async () => {
      const again = await hyperRow("start", startRow.label, "ms", startArgv, plan);
      for (const n of RT_NAMES) {
        startRow.cells[n].values.push(...again.cells[n].values);
        const e = again.cells[n].error;
        if (e !== undefined) startRow.cells[n].error ??= e;
      }
      startRow.samples =
        `${startRow.cells.runts.values.length} runs per runtime: before the other rows and after them (${plan.rounds} rounds × ${plan.runs} each time, warm-up ${plan.warmup} per round)`;
    };

    if (want("run")) {
      rows.push(
        await hyperRow(
          "run",
          "run /bin/true (foreground)",
          "ms",
          (rt) => cmd(rt, "run", "--bundle", bTrue, `bench-run-${rt.name}`),
          plan,
        ),
      );
      rows[rows.length - 1]!.commands = 1;
    }
    if (want("lifecycle")) {
      rows.push(
        await hyperRow(
          "lifecycle",
          "create + start + state until stopped + delete",
          "ms",
          (rt) => ["sh", lifeSh, bTrue, rt.root, `bench-life-${rt.name}`, ...rt.argv],
          plan,
        ),
      );
      rows[rows.length - 1]!.commands = 4;
    }
    if (want("exec") || want("state")) {
      // One idle running container per runtime for both rows.
      const idle = (rt: Runtime) => `bench-idle-${rt.name}`;
      const up = new Map<RtName, string>();
      for (const rt of rts) {
        checkStop();
        let o = await run(cmd(rt, "create", "--bundle", bSleep, idle(rt)), { timeoutMs: 60_000 });
        if (o.code === 0) o = await run(cmd(rt, "start", idle(rt)), { timeoutMs: 60_000 });
        if (o.code !== 0) {
          up.set(rt.name, `the idle container did not start: ${errText(o)}`);
          continue;
        }
        const pid = JSON.parse((await run(cmd(rt, "state", idle(rt)))).out || "{}").pid;
        try {
          const mine = /^\d+:memory:(.*)$/m.exec(Deno.readTextFileSync("/proc/self/cgroup"))?.[1];
          const its = /^\d+:memory:(.*)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/cgroup`))
            ?.[1];
          cgroups.push(
            `${rt.name}: ${
              its === mine
                ? "stays in the caller's cgroup"
                : `in its own cgroup (…/${its?.split("/").pop()})`
            }`,
          );
        } catch { /* no cgroup info */ }
      }
      const probeOr = (rt: Runtime, argv: string[]): Promise<Out> => {
        const e = up.get(rt.name);
        return e !== undefined
          ? Promise.resolve({ code: 1, out: "", err: e })
          : run(argv, { timeoutMs: 60_000 });
      };
      if (want("exec")) {
        const argvOf = (rt: Runtime) => cmd(rt, "exec", idle(rt), "/bin/true");
        rows.push({
          ...await hyperRow("exec", "exec /bin/true into a running container", "ms", argvOf, {
            ...plan,
            probe: (rt) => probeOr(rt, argvOf(rt)),
          }),
          commands: 1,
        });
      }
      if (want("state")) {
        const argvOf = (rt: Runtime) => cmd(rt, "state", idle(rt));
        rows.push({
          ...await hyperRow("state", "state of a running container", "ms", argvOf, {
            ...plan,
            probe: (rt) => probeOr(rt, argvOf(rt)),
          }),
          commands: 1,
        });
      }
      for (const rt of rts) await cleanRoot(rt);
    }
    if (want("memory")) {
      say(`memory: ${plan.memCounts.join(", ")} idle containers per runtime`);
      const memRows = plan.memCounts.map((n): Row => ({
        key: "memory",
        label: `runtime's resident PSS per idle container, ${n} container${n > 1 ? "s" : ""}`,
        unit: "MiB",
        cells: emptyCells(),
        samples: `mean over ${n} container${
          n > 1 ? "s" : ""
        } (min–max: single sandbox processes), after 2 s idle`,
        ...(n === 10 ? { target: 12 } : {}),
      }));
      // The anonymous memory (Pss_Anon) of the sandbox process of a container alone.
      const anonRow: Row = {
        key: "memory",
        label: "sandbox process's anonymous memory (Pss_Anon), 1 container",
        unit: "MiB",
        cells: emptyCells(),
        samples: "the sandbox process of the first container, alone, after 2 s idle",
        target: 10,
      };
      for (const rt of rts) {
        let made = 0;
        for (const [k, n] of plan.memCounts.entries()) {
          const cell = memRows[k]!.cells[rt.name];
          let failed = false;
          while (made < n && !failed) {
            checkStop();
            const id = `bench-mem-${made}`;
            let o = await run(cmd(rt, "create", "--bundle", bSleep, id), { timeoutMs: 60_000 });
            if (o.code === 0) o = await run(cmd(rt, "start", id), { timeoutMs: 60_000 });
            if (o.code !== 0) {
              cell.error = `container ${made + 1}: ${errText(o)}`;
              odd.push(`memory (${n}): ${rt.name} failed: ${cell.error}`);
              failed = true;
            }
            made++;
          }
          if (failed) break;
          await sleep(2000);
          if (rt.name === "runts") {
            // Everything runts keeps per container: its sandbox process (state.json sandboxPid),
            // and any other child of it than the container's init.
            const sandboxes = new Set<number>();
            const inits = new Set<number>();
            for (let i = 0; i < made; i++) {
              const st = JSON.parse(
                Deno.readTextFileSync(`${rt.root}/bench-mem-${i}/state.json`),
              );
              if (typeof st.sandboxPid === "number") sandboxes.add(st.sandboxPid);
              if (typeof st.pid === "number") inits.add(st.pid);
            }
            const per: number[] = [];
            let total = 0;
            const ppid = parents();
            for (const sp of sandboxes) {
              let kb = pss(sp);
              for (const [p, pp] of ppid) if (pp === sp && !inits.has(p)) kb += pss(p);
              per.push(kb / 1024);
              total += kb / 1024;
            }
            // Any other runts process of this --root (a spare sandbox process waiting for the
            // next create) counts too, shared out over the containers.
            for (const p of ppid.keys()) {
              if (sandboxes.has(p)) continue;
              try {
                const cl = Deno.readTextFileSync(`/proc/${p}/cmdline`).split("\0");
                const r = cl.indexOf("--root");
                if (r >= 0 && cl[r + 1] === rt.root && cl.includes("boot")) total += pss(p) / 1024;
              } catch { /* gone */ }
            }
            cell.values = per;
            cell.main = total / made;
            if (n === 1) {
              const kb = [...sandboxes].map(pssAnon);
              anonRow.cells.runts.values = kb.map((x) => x / 1024);
            }
          } else {
            // A runtime process of ours: the runtime binary with our --root on its command line,
            // or the parent of one of our containers' inits (other work on this host may run
            // runc or crun too).
            const exe = rt.argv[0]!;
            const ppid = parents();
            const initParents = new Set<number>();
            for (let i = 0; i < made; i++) {
              const st = await run(cmd(rt, "state", `bench-mem-${i}`));
              const pid = st.code === 0 ? JSON.parse(st.out).pid : undefined;
              const pp = typeof pid === "number" ? ppid.get(pid) : undefined;
              if (pp !== undefined) initParents.add(pp);
            }
            const left = [...ppid.keys()].filter((p) => {
              try {
                if (Deno.readLinkSync(`/proc/${p}/exe`) !== exe) return false;
                return initParents.has(p) ||
                  Deno.readTextFileSync(`/proc/${p}/cmdline`).includes(rt.root);
              } catch {
                return false;
              }
            });
            cell.main = 0;
            if (n === 1) {
              anonRow.cells[rt.name] = { values: [], main: 0, text: "0 (no process stays)" };
            }
            cell.text = left.length === 0
              ? "0 (no process stays)"
              : `${left.length} ${rt.name} processes stay`;
            if (left.length > 0) {
              cell.values = left.map((p) => pss(p) / 1024);
              cell.main = cell.values.reduce((a, b) => a + b, 0) / made;
              delete cell.text;
            }
          }
        }
        await cleanRoot(rt);
      }
      rows.push(...(plan.memCounts.includes(1) ? [anonRow] : []), ...memRows);
    }
    if (want("throughput")) {
      const n = plan.batchN;
      for (const par of [1, 2]) {
        rows.push({
          commands: 2 * n,
          ...await hyperRow(
            "throughput",
            `${n} × create + start, ${par === 1 ? "one after another" : "2 in parallel"}`,
            "s",
            (rt) => ["sh", batchSh, String(n), String(par), bSleep, rt.root, ...rt.argv],
            {
              rounds: plan.batchRounds,
              runs: 1,
              warmup: 0,
              prepareOf: (rt) => ["sh", cleanSh, rt.root, ...rt.argv],
              probe: async (rt) => {
                const o = await run(
                  ["sh", batchSh, "2", String(par), bSleep, rt.root, ...rt.argv],
                  {
                    timeoutMs: 120_000,
                  },
                );
                await cleanRoot(rt);
                return o;
              },
            },
          ),
        });
        for (const rt of rts) await cleanRoot(rt);
      }
    }
    if (want("phases")) {
      const runts = rts.find((r) => r.name === "runts")!;
      const reps = flags.quick ? 3 : 15, warm = 2;
      say(`phases: runts commands again with RUNTS_TRACE, ${reps} runs each (warm-up ${warm})`);
      const file = `${tmp}/trace.log`;
      const emptyWalls: number[] = [];
      for (let i = 0; i < warm + reps; i++) {
        const r = await traced(startArgv(runts), file);
        if (i >= warm) emptyWalls.push(r.ended - r.spawned);
      }
      emptyWalls.sort((a, b) => a - b);
      phasesEmpty = emptyWalls[Math.floor(emptyWalls.length / 2)]!;
      const idle = "bench-phases-idle";
      let o = await run(cmd(runts, "create", "--bundle", bSleep, idle), { timeoutMs: 60_000 });
      if (o.code === 0) o = await run(cmd(runts, "start", idle), { timeoutMs: 60_000 });
      if (o.code !== 0) throw new Error(`phases: the idle container did not start: ${errText(o)}`);
      const life = "bench-phases-life";
      const stopped = async () => {
        for (let i = 0; i < 500; i++) {
          const st = await run(cmd(runts, "state", life));
          if (st.code === 0 && JSON.parse(st.out).status === "stopped") return;
          await sleep(2);
        }
        throw new Error(`phases: ${life} did not stop`);
      };
      const ops: { label: string; argvs: string[][]; between?: (i: number) => Promise<void> }[] = [
        {
          label: "run /bin/true",
          argvs: [cmd(runts, "run", "--bundle", bTrue, "bench-phases-run")],
        },
        {
          label: "create + start + state + delete (state once, then asked until stopped untimed)",
          argvs: [
            cmd(runts, "create", "--bundle", bTrue, life),
            cmd(runts, "start", life),
            cmd(runts, "state", life),
            cmd(runts, "delete", life),
          ],
          between: async (i) => {
            if (i === 2) await stopped();
          },
        },
        { label: "exec /bin/true", argvs: [cmd(runts, "exec", idle, "/bin/true")] },
        { label: "state of a running container", argvs: [cmd(runts, "state", idle)] },
      ];
      for (const op of ops) {
        checkStop();
        const runs: CommandRun[][] = op.argvs.map(() => []);
        for (let i = 0; i < warm + reps; i++) {
          for (const [k, argv] of op.argvs.entries()) {
            const r = await traced(argv, file);
            if (i >= warm) runs[k]!.push(r);
            await op.between?.(k);
          }
        }
        phases.push({
          label: op.label,
          commands: op.argvs.map((argv, k) => summarize(argv[3]!, runs[k]!)),
        });
      }
      // Memory: the idle container's sandbox process beside an idle empty Deno started with the
      // same V8 flags, both after 2 s.
      const st = JSON.parse(Deno.readTextFileSync(`${runts.root}/${idle}/state.json`));
      const sbArgs = Deno.readTextFileSync(`/proc/${st.sandboxPid}/cmdline`).split("\0");
      const v8 = sbArgs.filter((a) => a.startsWith("--v8-flags="));
      const waitFile = `${tmp}/idle.js`;
      Deno.writeTextFileSync(waitFile, "await Deno.stdin.read(new Uint8Array(1));\n");
      const idleDeno = new Deno.Command(denoBin, {
        args: ["run", "-A", "--no-config", "--quiet", "--no-prompt", "--no-lock", ...v8, waitFile],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      children.add(idleDeno);
      try {
        await sleep(2000);
        memoryPhases = memoryMarkdown(
          anonByKind(Deno.readTextFileSync(`/proc/${st.sandboxPid}/smaps`)),
          anonByKind(Deno.readTextFileSync(`/proc/${idleDeno.pid}/smaps`)),
        );
      } finally {
        await idleDeno.stdin.close();
        await idleDeno.status;
        children.delete(idleDeno);
      }
      await cleanRoot(runts);
      console.log(`\n${phasesMarkdown(phases, phasesEmpty)}\n${memoryPhases}`);
    }
    await measureStartAgain?.();
  } catch (e) {
    if (e instanceof Interrupted) {
      code = 130;
      console.error(`bench: ${e.message}`);
    } else throw e;
  } finally {
    // Every container made lives in one of these roots; a runtime killed mid-create may still be
    // finishing, hence two passes.
    const hadSignal = stopping;
    stopping = null; // let the cleanup's own children run
    for (let pass = 0; pass < 2; pass++) {
      for (const rt of rts) await cleanRoot(rt);
      if (pass === 0 && hadSignal !== null) await sleep(1000);
    }
    const left: string[] = [];
    for (const rt of rts) {
      for (const e of Deno.readDirSync(rt.root)) {
        if (e.isDirectory) left.push(`${rt.name}:${e.name}`);
      }
    }
    if (left.length > 0) {
      console.error(`bench: not deleted: ${left.join(", ")} (roots under ${tmp})`);
      if (code === 0) code = 1;
    } else {
      Deno.removeSync(tmp, { recursive: true });
    }
    stopping = hadSignal;
  }
  if (code !== 0) return code;

  const load1 = Deno.loadavg();
  const meta = {
    date: started.toISOString().replace(/\.\d+Z$/, "Z"),
    kernel: Deno.osRelease(),
    cpus: navigator.hardwareConcurrency,
    memGiB: (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(1),
  };
  const sr = rows.find((r) => r.key === "start");
  const sd = sr && mainValue(sr.cells.runts), sc = sr && mainValue(sr.cells.runc);
  const start = sd !== undefined && sc !== undefined ? { deno: sd, runc: sc } : undefined;
  const tbl = table(rows, start);
  const versions = [
    `runc: ${rts[0]!.version}`,
    `crun: ${rts[1]!.version} (run as \`crun --cgroup-manager=disabled\`)`,
    `runts: ${rts[2]!.version} (commit ${head}, Deno ${Deno.version.deno})`,
    `hyperfine: ${hfVersion}`,
  ];
  console.log(
    `\n${tbl}\n\n${meta.date}, Linux ${meta.kernel}, ${meta.cpus} CPUs, ${versions.join("; ")}`,
  );
  if (odd.length) console.log(`\nfailures:\n${odd.map((s) => `  ${s}`).join("\n")}`);
  if (rows.some((r) => r.unbundled)) {
    console.log("† sources changed during the row: runts ran at least partly from main.ts");
  }
  if (!write) {
    console.error("bench: docs not written (--quick or --only; add --write to write them)");
    return 0;
  }

  const subtitle = `${meta.date}, Linux ${meta.kernel}, ${meta.cpus} CPUs; ${
    rts.map((r) => r.version).join(", ")
  }; crun with --cgroup-manager=disabled`;
  Deno.mkdirSync(`${REPO}/docs`, { recursive: true });
  Deno.writeTextFileSync(SVG, chart(rows, subtitle, start));
  const rowNotes = rows.map((r) => `- ${r.label}: ${r.samples}.`).join("\n");
  const md = `# Benchmarks: runts, runc and crun

Generated by \`deno task bench\` (scripts/bench.ts); do not edit by hand. Measured on ${meta.date}.

## Machine and versions

- Linux ${meta.kernel}, ${meta.cpus} CPUs (${cpuModel}), ${meta.memGiB} GiB of memory
- ${versions.join("\n- ")}
- load average at the start ${load0.map((x) => x.toFixed(2)).join(" ")}, at the end ${
    load1.map((x) => x.toFixed(2)).join(" ")
  }

These numbers come from this one machine: 2 cores on a noisy shared host, where other work ran at
the same time. Read the medians; min and max show the noise, not the runtimes.

## Results

Each cell: median (min–max) for time rows; for the memory rows, the mean per container (min–max
over single sandbox processes). Ratios compare medians (memory: means).

**floor** of a time row = (\`deno run\` of an empty file − \`runc --version\`, the medians of the
start row) × the number of runts commands the operation invokes + runc's median for the same
operation: what runts would take if it paid nothing beyond one Deno start per command (the
sandbox process's own start is not counted). Commands per row: run 1, create + start + state +
delete 4 (the state loop usually asks once), exec 1, state 1, N × create + start 2N (also for
2 in parallel: every command counted, as defined). For the memory rows the floor column holds the
target runts is held to (Pss_Anon ≤ 10 MiB for a sandbox process alone, PSS ≤ 12 MiB per container
with 10 running).

${tbl}
${
    rows.some((r) => r.unbundled)
      ? "\n† sources changed while the row ran: runts ran at least partly from main.ts, not from" +
        " the bundle.\n"
      : ""
  }${
    odd.length
      ? `\nFailures:\n\n${odd.map((s) => `- ${s.replaceAll("|", "\\|")}`).join("\n")}\n`
      : ""
  }
![Bar chart of the medians](benchmarks.svg)

## What each row measures

- **start**: \`runc --version\` and \`crun --version\`, and in the runts column \`deno run -A
  --no-config --quiet --no-prompt --no-lock\` of an empty file, as bin/runts starts Deno: the
  parts of every floor, measured before the other rows and again after them.
- **sandbox process's anonymous memory**: \`Pss_Anon\` of \`/proc/PID/smaps_rollup\` of the
  sandbox process of one idle container alone: the memory that is its own (the rest of its PSS is
  the deno binary's file pages, shared with every other Deno process).
- **run /bin/true**: \`run --bundle B ID\` of a busybox container whose process is /bin/true, in
  the foreground: create, start, wait, delete in one command.
- **create + start + state until stopped + delete**: the split lifecycle a container engine
  drives, as one \`sh\` script that is the same for every runtime (scripts/bench.ts, \`life.sh\`):
  \`create\`, \`start\`, \`state\` until it says stopped, \`delete\`.
- **exec /bin/true** and **state**: into, and of, a running container (\`sleep 1000\`) made once
  before the row.
- **runtime's resident PSS per idle container**: with ${
    plan.memCounts.join(", ")
  } idle containers running, the
  proportional set size (\`Pss\` of \`/proc/PID/smaps_rollup\`) of every process the runtime keeps
  beside the container, divided by the number of containers. For runts that is the sandbox
  process of each container (\`sandboxPid\` in \`ROOT/ID/state.json\`). runc and crun keep no process
  once \`start\` returns, only the container's own init, which is not counted for anyone: their
  share is 0 (the script checks that no runc or crun process is left).
- **create + start, one after another / 2 in parallel**: ${plan.batchN} containers (\`sleep 1000\`)
  created and started by one \`sh\` loop (\`batch.sh\`), or by two loops at once; the whole batch
  is timed, and deleted (\`--prepare\`, not timed) before the next run.

Runs per row:

${rowNotes}

## How it was measured

- hyperfine \`-N\` (no shell between hyperfine and the runtime) with \`--warmup\`, \`--runs\` and
  \`--export-json\`. hyperfine runs every run of one command before the next command, so each row
  is split into rounds: one hyperfine invocation per round with the three runtimes, their order
  rotated from round to round; the times of all rounds are pooled.
- One busybox rootfs (\`scripts/rootfs.sh\`, read-only) and two config.json files written from
  \`runc spec\` (ociVersion 1.0.2-dev: crun 1.8.1 refuses 1.2.0) with \`terminal: false\`, no
  cgroupsPath, \`process.args\` \`/bin/true\` or \`sleep 1000\`, and Docker's device rules (deny
  all, then mknod of any device and read-write of null, zero, full, random, urandom, tty,
  console, ptmx and the ptys) in place of \`runc spec\`'s deny-all rule alone. ${plainNote}
- Each runtime has its own temporary \`--root\` and its own container ids; every container is
  deleted with \`delete --force\` at the end, also when the script is interrupted.
- crun is run as \`crun --cgroup-manager=disabled\`: it puts containers in no cgroup.${
    cgroups.length ? ` The idle container's init (v1 memory hierarchy): ${cgroups.join("; ")}.` : ""
  }
${
    cgroupNote
      ? `- ${cgroupNote}\n`
      : ""
  }- runts in the foreground (\`run\`) is one Deno process; \`create\` starts a second one, the
  sandbox process (also Deno), which stays for the container's life; \`start\`, \`state\`,
  \`exec\`, \`kill\` and \`delete\` are one more Deno start each. A \`create\` without \`--pid-file\`
  adopts the spare sandbox process an earlier create of the same \`--root\` left (no Deno start
  on its path) and leaves the next one (src/sandbox/spare.ts; on with \`RUNTS_SPARE=1\`, which the
  benchmark sets):
  the memory rows count the waiting spare too.
  bin/runts loads the bundle build/runts/ (main.js and one file per command; the script makes it
  when sources are newer).

## Where the time goes

${
    phases.length === 0
      ? "(not measured in this run: `--only` left out `phases`)\n\n"
      : `Every runts
command of the time rows run again, alone, with \`RUNTS_TRACE=FILE\` (src/trace.ts): each runts
process appends its marks with the wall clock, so a sandbox process's marks (\`(other process)\`)
land on the clock of the command that waits for them. Columns: ms since the command's Deno process
started its clock (about 1 ms after Deno starts), the median over the runs; a phase ends at its
mark and starts at the row before. "Outside its marks" is the wall time less the command's own last
mark: bin/runts (~1 ms of \`sh\`), Deno's start before its clock and its exit after its last mark.
Each wall line gives an empty file's \`deno run\`, measured the same way: the floor of one command,
which pays all of that but bin/runts' \`sh\` ("beyond it" holds the wrapper's ~1 ms). During
\`create\` the other process is the adopted spare making the container; during \`start\`, the next
spare (which create started as it finished) starting up beside it.

${phasesMarkdown(phases, phasesEmpty)}
Memory of the idle container's sandbox process against a Deno process that waits on a read and has
run nothing else (the same V8 flags), by kind of mapping:

${memoryPhases}
`
  }
What each phase holds (the ms in parentheses were measured beside this script, with extra marks,
on the same machine when it was quiet):

| Phase (its closing mark) | What runts does in it | What runc does for it |
| ------------------------ | --------------------- | --------------------- |
| main | main.js and its 7 chunks evaluated: the command table, the global flags | the Go runtime's start (~1 ms) |
| *command*: loaded | the command's chunks (run: 330 KB in ~45 modules; state: 25 KB) read, looked up in Deno's code cache (one SQLite query each), deserialized, instantiated and evaluated: ~0.07 ms a module and ~17 µs a KB | nothing (one static binary) |
| run: state written, control socket listening | config.json read and checked as cold JavaScript (~2.5 ms), the state directory made whole and renamed into place (~2.5), the control socket bound, the first FFI calls (libc opened, ~2) | config.json read, state.json written (~2 ms) |
| boot: cgroup ready | the cgroup manager chosen (mountinfo, /proc/self/cgroup), the create's checks (frozen, not empty), 10 directories made and the limits and device rules written, as cold JavaScript (~4 ms of it) | the same directories and writes, compiled |
| init: program built | the init's syscall program (~450 steps: namespaces, mounts, devices, masked paths, capabilities, seccomp) laid out by cold JavaScript | nothing: \`runc init\` is compiled Go (it re-executes /proc/self/exe where runts clones) |
| init: ready | the program encoded (~2 ms), the clone, the init moved into its cgroup (the RCU grace period below, hidden behind its mounts), the init's ~450 system calls until it blocks before execve | the same kernel work (nsexec, the mounts, pivot_root) |
| run: process started, exited, cleaned up | the init released, /bin/true run and reaped, the cgroup's 10 directories removed, the state directory removed | the same |
| create: (other process) boot: create request | claim (config.json checked, the state directory: ~4 ms), the container's lock (~1), the spare adopted (one rename), the first FFI calls and the connection (~2), the request sent | config.json, the state directory |
| create: done (after init: ready) | the reply, the record saved, the next spare started (a clone and an exec of Deno, ~3.5 ms) | nothing |
| start: done | the start request; the sandbox process releases the init and runs the poststart hooks; the next spare starts beside it on the 2 CPUs (its marks) | a write to the exec fifo |
| delete: done | DESTROY to the sandbox process (the init reaped, its cgroup removed, the answer), the state directory removed, the sandbox process killed (not waited for) | kill, the cgroup and the state directory removed |
| exec: done | the state read, the exec's program built (cold JavaScript), the process cloned into the container's namespaces (setns through a pidfd), moved into its cgroup, its ready report, released | \`runc init\` joins through nsexec, the same moves |
| outside its marks | bin/runts (~1 ms of \`sh\`), Deno's start before its clock (~1 ms), Deno's teardown after the last mark (~4 ms: \`kill -9\` to reaped) | the Go process's exit |

The first move of a process into a cgroup waits for an RCU grace period in the kernel
(\`cgroup_threadgroup_rwsem\`, ~10 ms here, runc pays it too). runts starts that wait early: the
sandbox process moves itself into its own cgroup in the background (no move; src/cgroup/warm.ts)
as soon as the container's cgroup directories exist, and the init makes its mounts while it is
being moved (it waits just before its device nodes). What runc does not pay: the Deno start (the
floor), loading the command's code (~11 ms for run), and running the program builder, the config
checks and the cgroup code as cold JavaScript (each runs once per process, interpreted).

Levers, each measured on this machine (hyperfine or the runtime's own A/B pairs; medians):

| Lever | Before → after | Kept |
| ----- | -------------- | ---- |
| src/path.ts instead of \`node:path\` (the first \`node:\` import sets up Deno's Node layer) | \`state\` 63.7 → 29.6 ms wall; ~1 MiB less per process | yes |
| the bundle's \`import()\` specifiers hidden from \`deno run\`'s module graph (it read and analysed every command's chunks, 1.4 MB, at start) | \`state\`: first line of main.js at 7.5 → 2.7 ms | yes |
| commands load only what they use: pid files, the early cgroup move, capability names, the sandbox kill in modules of their own; the config parser (exec \`--process\`), hooks (delete), cgroup code (delete, kill), KVM, seccomp and the systemd driver when used | bundle loaded: exec 390 → 187 KB, delete 293 → 82, create 347 → 151, run 400 → 330, sandbox process 336 → 281 | yes |
| the init makes its mounts while it is moved into its cgroup; the sandbox's early no-op move | clone → init in its cgroup: 5.7–26 → 0.8–25 ms (the grace period itself varies) | yes |
| no Deno timer on the commands' paths (the first \`setTimeout\` costs 6–16 ms and ~1.8 MiB): delete's bound on the sandbox's answer is a socket receive timeout, the sandbox waits on a timerfd | \`delete\` −6 to −10 ms | yes |
| \`delete\` through the sandbox process's own cgroup manager, the sandbox killed and not waited for | lifecycle 0.956× (15 pairs) | the manager yes; not waiting no: delete then returned while the sandbox process was still being torn down (a pod test saw it in one suite run) |
| the sandbox process killed first, its end awaited after the state directory is removed | lifecycle 1.028× (30 pairs) against not waiting: the price of "nothing left when delete returns" | yes |
| the create's cgroup check made once (by the sandbox process, warnings returned) | \`create\` −3 to −5 ms | yes |
| the program laid out without BigInt arithmetic, labels in a map | label lookups 0.20 → 0.09 ms; encoding ~2 ms cold before and after | yes (simpler) |
| bin/runts without \`readlink\`/\`find\` forks (\`test -nt\` over the sources) | wrapper 20.4 → 13.3 ms wall | yes |
| every top-level function of the bundle parenthesised and moved to its file's top (scripts/eager.ts): V8 compiles it with the file, so Deno's code cache holds its bytecode (a lazily compiled function was compiled again by every process) | \`run\`: program built 12 → 7 ms, in-process 58 → 53.5 ms (8 interleaved pairs); lifecycle 0.92× (20 pairs); \`state\` unchanged; sandbox Pss_Anon unchanged | replaced by \`--no-lazy\` below, which compiles the class methods and closures as well (the rewrite removed) |
| bin/runts tests only the bundle's own sources (build/runts/sources.sh, from \`deno info\`) for staleness, not a glob over src/ and ffi/ | the wrapper alone 3.4 → 1.8 ms (\`sh -c exit\`: 0.9) | yes |
| spare sandbox process adopted by the next create | create + start + state + delete 634 → 505 ms | yes (opt-in) |
| a spare rehearses the create path while it waits (1 or 5 rounds) | the sandbox side of create 30–68 → 17–24 ms, but the lifecycle 1.01× both (15 pairs): the rounds take the CPU from the next commands; +2 MiB kept per round | no |
| the next spare started while the sandbox makes the container (the create's reply awaited on an FFI thread) | lifecycle 1.03× (20 pairs): the spare's start takes the CPU the sandbox needs | no |
| the init moves itself into its cgroup v1 hierarchies (\`tasks\`: a thread's own move takes no global lock, no grace period) | \`run\` in a v1-only view 1.01× (20 pairs): the grace period was already hidden behind the init's mounts | no |
| \`--v8-flags=--no-maglev\` for every runts process (commands and sandbox processes alike: V8 refuses a code cache made under other flags, and Deno writes its own over it; with the commands' flags differing from the sandbox process's, each command rewrote the caches of 13 to 30 chunks) | run 0.943×, lifecycle 0.984× (twice), exec 0.986× (30 pairs each); run's CPU 0.87×; the KVM exit rate unchanged (TurboFan stays) | yes |
| \`--no-opt\` as well (no TurboFan) | run 0.948×, lifecycle 0.963×, exec 1.00× (30 pairs): no more than without it; a KVM vCPU's port-I/O exits/s −12%, ring-3 syscalls/s −22% | no |
| exec: the process moves itself into its cgroup v1 hierarchies (writes "0" to their \`tasks\` files: a thread's own move takes no global lock), and no early move where no cgroup2 is mounted | exec 0.96× in the benchmark's v1 view, 1.03× on this hybrid host (30 and 40 pairs): there the parent's cgroup2 move still waits for the grace period | no |
| \`--v8-flags=--no-lazy\` for every command, the sandbox process left on its own flags | run −15 ms, state +2 ms; lifecycle 1.055× (15 pairs): V8 refuses a code cache made under other flags, so the commands and the sandbox processes rewrote each other's | no |
| \`--no-lazy\` in every runts process, all on the same flags | run 0.935×, lifecycle 0.961×, exec 0.972×, state 0.99× (30 pairs each); the sandbox process's Pss_Anon +0.6 MiB (the bytecode of functions it never runs) | yes |
| V8 flags for short commands: \`--single-threaded\`, \`--lite-mode\`, \`--max-lazy\` | \`state\` CPU 59.8 → 73.7, 71.6, 75.5 ms | no |
| \`//# allFunctionsCalledOnLoad\`, a minified bundle | no change (Deno passes no compile hints; the code cache, not the source size, sets the cost) | no |
| sandbox: \`gc()\` and \`malloc_trim\` after create, bytecode flushing (\`--bytecode-old-age=1\`), \`--no-code-cache\`, \`--lite-mode\`, \`--jitless\` | Pss_Anon within ±0.5 MiB of the others' spread (V8 keeps its pages) | no |
| sandbox: one malloc arena for all its threads (\`MALLOC_ARENA_MAX=1\` in its environment) | Pss_Anon −0.1 MiB in this script's memory row (twice each way: the threads' arenas go, the main heap grows by most of them), −0.3 to −0.4 MiB with \`runts spec\`'s bundle running \`sleep\`; lifecycle 1.00× (40 pairs) | yes |
| \`--minor-ms\` (young generation marked and swept in place, no semi-spaces) in every runts process | sandbox Pss_Anon −0.8 MiB; lifecycle 1.016×, run 1.03× (30 pairs); each command's peak RSS +0.5 to +0.9 MiB | no |
| sandbox: \`MALLOC_TRIM_THRESHOLD_=0\` with \`MALLOC_TOP_PAD_=0\`, a 16 KiB mmap threshold, no tcache | Pss_Anon −0.1 to −0.2 MiB, within the spread | no |

Memory: an idle empty Deno with the sandbox process's V8 flags (the memory table above) is the
floor of a sandbox process: the ≤ 10 MiB Pss_Anon target leaves about 1.4 MiB above it for the
runtime's code and state. What the sandbox process has above that floor is V8's heap (the bytecode,
functions and strings of the 281 KB of code it loads, and its objects) and malloc's (FFI buffers,
Deno's resources); the deno binary's written pages are the same in both. With a timer set, an idle
Deno takes 1.8 MiB more (runts sets none in the sandbox process: it waits on a timerfd).

## How to run it

\`\`\`sh
sudo deno task bench                  # every row; writes docs/benchmarks.md and docs/benchmarks.svg
sudo deno task bench --quick          # fewer runs and smaller batches, to try it (prints only)
sudo deno task bench --only run,exec  # some rows: ${ROW_KEYS.join(", ")}
\`\`\`

It needs root, and installs runc, crun and hyperfine with \`bash scripts/setup.sh bench\` when they
are missing. A full run takes several minutes. \`--write\` writes the docs after \`--quick\` or
\`--only\` too.
`;
  Deno.writeTextFileSync(DOC, md);
  const f = await run([Deno.execPath(), "fmt", "--quiet", "--config", `${REPO}/deno.json`, DOC]);
  if (f.code !== 0) console.error(`bench: deno fmt ${DOC}: ${errText(f)}`);
  console.error(`bench: wrote ${DOC} and ${SVG}`);
  return 0;
}

/** pid -> ppid of every process. */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const s = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]);
      m.set(Number(e.name), ppid);
    } catch { /* gone */ }
  }
  return m;
}

/** Pss_Anon of a process in kB (smaps_rollup), 0 when it is gone. */
function pssAnon(pid: number): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    return Number(/^Pss_Anon:\s+(\d+) kB/m.exec(s)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Pss of a process in kB (smaps_rollup), 0 when it is gone. */
function pss(pid: number): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    return Number(/^Pss:\s+(\d+) kB/m.exec(s)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
