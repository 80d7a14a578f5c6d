/**
 * The cgroup v2 manager (one unified hierarchy), and the v2 pieces the v1 manager reuses on a
 * hybrid host for the cgroup2 hierarchy at /sys/fs/cgroup/unified (hugetlb there, the
 * `unified` map, cgroup.freeze when there is no v1 freezer).
 *
 * OCI resources are written in cgroup v1 terms; they are converted as runc does: cpu.shares to
 * cpu.weight, blkio weight to io.weight, memory+swap to memory.swap.max.
 * @module
 */
import type {
  LinuxBlockIO,
  LinuxCPU,
  LinuxDeviceCgroup,
  LinuxHugepageLimit,
  LinuxMemory,
  LinuxRdma,
  LinuxResources,
} from "../oci/spec.ts";
import {
  type BlkioEntry,
  CgroupError,
  type CgroupFs,
  type CgroupManager,
  checkUnifiedKey,
  destroyDirs,
  devNo,
  emptyStats,
  errCode,
  filesOf,
  type HugetlbStats,
  isSet,
  join,
  parseKeyValues,
  parseUint,
  procsRecursive,
  readOpt,
  readUint,
  sigkill,
  sleepSync,
  type Stats,
  UNLIMITED,
  writeField,
} from "./_common.ts";
import { DeviceEmulator } from "./device_emulator.ts";
import { applyDeviceProgram, attachedDevicePrograms, deviceFilterProgram } from "./devices_bpf.ts";

const R = "linux.resources";

/**
 * cpu.shares (v1, 2..262144) to cpu.weight (v2, 1..10000), runc's formula
 * `1 + ((shares - 2) * 9999) / 262142` in integers; 0 stays 0 (unset).
 *
 * @example
 * ```ts
 * sharesToWeight(1024); // 39
 * ```
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  const s = Math.min(Math.max(shares, 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** blkio weight (v1, 10..1000) to io.weight (v2, 1..10000): `1 + (w - 10) * 9999 / 990`. */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  const w = Math.min(Math.max(weight, 10), 1000);
  return 1 + Math.floor(((w - 10) * 9999) / 990);
}

/**
 * The memory.swap.max value for OCI's memory+swap `swap` and `limit` (runc's conversion):
 * -1 is "max", 0 is "leave alone"; otherwise swap - limit.
 *
 * @throws {CgroupError} for a swap below the limit or a swap with no memory limit.
 */
export function swapToV2(swap: number, limit: number): number {
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === -1) return swap;
  const f = `${R}.memory.swap`;
  if (limit === 0) throw new CgroupError(f, "cannot set a swap limit without a memory limit");
  if (limit < 0) throw new CgroupError(`${R}.memory.limit`, `invalid memory limit ${limit}`);
  if (swap < limit) {
    throw new CgroupError(f, `memory+swap (${swap}) must be >= the memory limit (${limit})`);
  }
  return swap - limit;
}

/**
 * Enforces device rules on the cgroup v2 directory `dir` with an eBPF program
 * ({@linkcode applyDeviceProgram}). The rules are first reduced to what the v1 devices
 * controller would hold ({@linkcode DeviceEmulator}: same semantics on v1 and v2, unknown
 * access letters ignored); when that allows everything, no program is loaded and runts' earlier
 * programs are detached. No rules at all leave the cgroup as it is. Without `dir`, only checks
 * that the rules can be compiled into a program.
 *
 * @throws {CgroupError} `linux.resources.devices...` for a bad rule or when the kernel refuses
 */
export function applyDevicesV2(rules: LinuxDeviceCgroup[], dir?: string): void {
  if (rules.length === 0) return;
  const emu = DeviceEmulator.fromSpec(rules);
  const effective = emu.isAllowAll() ? undefined : emu.rules();
  if (dir === undefined) {
    if (effective !== undefined) deviceFilterProgram(effective);
  } else if (effective !== undefined) applyDeviceProgram(dir, effective);
  else if (attachedDevicePrograms(dir).length > 0) applyDeviceProgram(dir, undefined);
}

/** The controllers listed in a cgroup's cgroup.controllers / cgroup.subtree_control. */
function controllerList(fs: CgroupFs, file: string): string[] {
  return (readOpt(fs, file) ?? "").trim().split(/\s+/).filter((c) => c !== "")
    .map((c) => c.replace(/^\+/, ""));
}

/**
 * Creates dir level by level, enabling controllers in `cgroup.subtree_control` of every cgroup
 * from the hierarchy's root down to dir's parent before its child is made, so every level gets
 * their interface files (runc's CreateCgroupPath). `only` limits which controllers (default:
 * every available one). Failures to enable are ignored: a cgroup that holds processes cannot
 * delegate; the write of a limit then fails and names the field.
 */
export function createWithControllers(
  fs: CgroupFs,
  mountPoint: string,
  dir: string,
  only?: string[],
): void {
  const rel = dir.slice(mountPoint.length).split("/").filter((p) => p !== "");
  let cur = mountPoint;
  for (const part of rel) {
    const available = controllerList(fs, join(cur, "cgroup.controllers"));
    const enabled = new Set(controllerList(fs, join(cur, "cgroup.subtree_control")));
    const want = available.filter((c) =>
      (only === undefined || only.includes(c)) && !enabled.has(c)
    );
    if (want.length > 0) {
      const file = join(cur, "cgroup.subtree_control");
      try {
        fs.write(file, want.map((c) => `+${c}`).join(" "));
      } catch {
        for (const c of want) {
          try {
            fs.write(file, `+${c}`);
          } catch {
            // not delegatable here; reported when a limit needs it
          }
        }
      }
    }
    cur = join(cur, part);
    if (!fs.exists(cur)) fs.mkdirAll(cur);
  }
}

function hint(controller: string): string {
  return `the ${controller} controller is not enabled for this cgroup (see cgroup.controllers)`;
}

/** Writes memory limits (v2 files). */
function setMemory(fs: CgroupFs, dir: string, m: LinuxMemory | undefined): void {
  if (m === undefined) return;
  const F = `${R}.memory`;
  if (m.swappiness !== undefined && m.swappiness !== -1) {
    throw new CgroupError(`${F}.swappiness`, "not supported on cgroup v2");
  }
  // disableOOMKiller, kernel, kernelTCP, useHierarchy: no v2 equivalent, ignored as by runc
  const limit = m.limit ?? 0;
  const swap = m.swap ?? 0;
  const reservation = m.reservation ?? 0;
  if (limit === 0 && swap === 0 && reservation === 0) return;
  if (m.checkBeforeUpdate === true && limit > 0) {
    const usage = readUint(fs, join(dir, "memory.current"));
    if (usage >= limit) {
      throw new CgroupError(
        `${F}.limit`,
        `rejecting memory limit ${limit}: at or below the current usage ${usage}`,
      );
    }
  }
  let effLimit = limit;
  if (limit === 0 && swap !== 0) {
    const cur = (readOpt(fs, join(dir, "memory.max")) ?? "max").trim();
    effLimit = cur === "max" ? -1 : parseUint(cur);
  }
  const sw = swapToV2(swap, effLimit);
  const swapStr = sw === -1 ? "max" : sw === 0 ? (swap > 0 ? "0" : "") : String(sw);
  if (swapStr !== "") {
    try {
      fs.write(join(dir, "memory.swap.max"), swapStr);
    } catch (e) {
      // no swap accounting: unlimited or no swap is what there is anyway
      if (!(errCode(e) === "ENOENT" && (swapStr === "max" || swapStr === "0"))) {
        writeField(fs, {
          dir,
          file: "memory.swap.max",
          value: swapStr,
          field: `${F}.swap`,
          hint: "swap accounting is not enabled in this kernel",
        });
      }
    }
  }
  if (limit !== 0) {
    const value = limit === -1 ? "max" : String(limit);
    writeField(fs, { dir, file: "memory.max", value, field: `${F}.limit`, hint: hint("memory") });
  }
  if (reservation !== 0) {
    const value = reservation === -1 ? "max" : String(reservation);
    writeField(fs, {
      dir,
      file: "memory.low",
      value,
      field: `${F}.reservation`,
      hint: hint("memory"),
    });
  }
}

/** Writes CPU and cpuset settings (v2 files). */
function setCpu(fs: CgroupFs, dir: string, c: LinuxCPU | undefined): void {
  if (c === undefined) return;
  const F = `${R}.cpu`;
  if (isSet(c.realtimePeriod) || isSet(c.realtimeRuntime)) {
    const f = isSet(c.realtimeRuntime) ? "realtimeRuntime" : "realtimePeriod";
    throw new CgroupError(`${F}.${f}`, "realtime CPU limits are not supported on cgroup v2");
  }
  if (isSet(c.shares)) {
    writeField(fs, {
      dir,
      file: "cpu.weight",
      value: String(sharesToWeight(c.shares)),
      field: `${F}.shares`,
      hint: hint("cpu"),
    });
  }
  if (isSet(c.quota) || isSet(c.period)) {
    const [curQuota = "max", curPeriod = "100000"] = (readOpt(fs, join(dir, "cpu.max")) ?? "")
      .trim().split(/\s+/).filter((x) => x !== "");
    const quota = isSet(c.quota) ? (c.quota > 0 ? String(c.quota) : "max") : curQuota;
    const period = isSet(c.period) ? String(c.period) : curPeriod;
    writeField(fs, {
      dir,
      file: "cpu.max",
      value: `${quota} ${period}`,
      field: isSet(c.quota) ? `${F}.quota` : `${F}.period`,
      hint: hint("cpu"),
    });
  }
  if (c.burst !== undefined) {
    writeField(fs, {
      dir,
      file: "cpu.max.burst",
      value: String(c.burst),
      field: `${F}.burst`,
      hint: "this kernel has no cpu.max.burst (Linux 5.14+) or the cpu controller is not enabled",
    });
  }
  if (c.idle !== undefined) {
    writeField(fs, {
      dir,
      file: "cpu.idle",
      value: String(c.idle),
      field: `${F}.idle`,
      hint: "this kernel has no cpu.idle (Linux 5.15+) or the cpu controller is not enabled",
    });
  }
  if (c.cpus !== undefined && c.cpus !== "") {
    writeField(fs, {
      dir,
      file: "cpuset.cpus",
      value: c.cpus,
      field: `${F}.cpus`,
      hint: hint("cpuset"),
    });
  }
  if (c.mems !== undefined && c.mems !== "") {
    writeField(fs, {
      dir,
      file: "cpuset.mems",
      value: c.mems,
      field: `${F}.mems`,
      hint: hint("cpuset"),
    });
  }
}

/** Writes io.weight / io.bfq.weight and io.max. */
function setIo(fs: CgroupFs, dir: string, b: LinuxBlockIO | undefined): void {
  if (b === undefined) return;
  const F = `${R}.blockIO`;
  const bfq = fs.exists(join(dir, "io.bfq.weight"));
  const weightFile = bfq ? "io.bfq.weight" : "io.weight";
  const conv = (w: number) => String(bfq ? w : blkioWeightToIoWeight(w));
  if (isSet(b.leafWeight)) {
    throw new CgroupError(`${F}.leafWeight`, "not supported on cgroup v2");
  }
  if (isSet(b.weight)) {
    writeField(fs, {
      dir,
      file: weightFile,
      value: conv(b.weight),
      field: `${F}.weight`,
      hint: hint("io"),
    });
  }
  (b.weightDevice ?? []).forEach((d, i) => {
    if (isSet(d.leafWeight)) {
      throw new CgroupError(`${F}.weightDevice[${i}].leafWeight`, "not supported on cgroup v2");
    }
    if (isSet(d.weight)) {
      writeField(fs, {
        dir,
        file: weightFile,
        value: `${devNo(d)} ${conv(d.weight)}`,
        field: `${F}.weightDevice[${i}]`,
        hint: hint("io"),
      });
    }
  });
  const throttles = [
    ["throttleReadBpsDevice", "rbps"],
    ["throttleWriteBpsDevice", "wbps"],
    ["throttleReadIOPSDevice", "riops"],
    ["throttleWriteIOPSDevice", "wiops"],
  ] as const;
  for (const [key, name] of throttles) {
    (b[key] ?? []).forEach((d, i) => {
      writeField(fs, {
        dir,
        file: "io.max",
        value: `${devNo(d)} ${name}=${d.rate > 0 ? d.rate : "max"}`,
        field: `${F}.${key}[${i}]`,
        hint: hint("io"),
      });
    });
  }
}

/** The page sizes (`2MB`) a cgroup has hugetlb files for, given the file suffix. */
export function hugePageSizes(fs: CgroupFs, dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const f of filesOf(fs, dir)) {
    const m = /^hugetlb\.([0-9]+[KMGkmg]B)\.(.+)$/.exec(f);
    if (m && m[2] === suffix) out.push(m[1]!);
  }
  return out;
}

/**
 * Writes hugetlb limits: `hugetlb.<size>.max` (v2 names) or `hugetlb.<size>.limit_in_bytes`
 * (v1), plus the `rsvd` variant when the kernel has it.
 */
export function applyHugetlb(
  fs: CgroupFs,
  dir: string,
  limits: LinuxHugepageLimit[],
  v: "v1" | "v2",
): void {
  const suffix = v === "v2" ? "max" : "limit_in_bytes";
  limits.forEach((h, i) => {
    const field = `${R}.hugepageLimits[${i}]`;
    const file = `hugetlb.${h.pageSize}.${suffix}`;
    if (!fs.exists(join(dir, file))) {
      const sizes = hugePageSizes(fs, dir, suffix);
      throw new CgroupError(
        `${field}.pageSize`,
        sizes.length === 0
          ? "the hugetlb controller is not available for this cgroup"
          : `${JSON.stringify(h.pageSize)} is not a huge page size of this machine (${
            sizes.join(", ")
          })`,
      );
    }
    const value = h.limit < 0 ? (v === "v2" ? "max" : "-1") : String(h.limit);
    writeField(fs, { dir, file, value, field: `${field}.limit` });
    const rsvd = `hugetlb.${h.pageSize}.rsvd.${suffix}`;
    if (fs.exists(join(dir, rsvd))) {
      writeField(fs, { dir, file: rsvd, value, field: `${field}.limit` });
    }
  });
}

/** Writes rdma.max (same file on v1 and v2). */
export function applyRdma(
  fs: CgroupFs,
  dir: string,
  rdma: Record<string, LinuxRdma>,
): void {
  for (const [dev, r] of Object.entries(rdma)) {
    const parts = [dev];
    if (r.hcaHandles !== undefined) parts.push(`hca_handle=${r.hcaHandles}`);
    if (r.hcaObjects !== undefined) parts.push(`hca_object=${r.hcaObjects}`);
    if (parts.length === 1) continue;
    writeField(fs, {
      dir,
      file: "rdma.max",
      value: parts.join(" "),
      field: `${R}.rdma[${JSON.stringify(dev)}]`,
      hint: hint("rdma"),
    });
  }
}

/**
 * Writes `linux.resources.unified`: each key is a file of the cgroup, each line of the value
 * one write. `ensure(controller)` is called first so a hybrid host can enable it on demand.
 */
export function writeUnified(
  fs: CgroupFs,
  dir: string,
  unified: Record<string, string>,
  ensure: (controller: string) => void = () => {},
): void {
  for (const key of Object.keys(unified)) checkUnifiedKey(key);
  for (const [key, value] of Object.entries(unified)) {
    const controller = key.split(".")[0]!;
    if (controller !== "cgroup") ensure(controller);
    const lines = value.split("\n").filter((l) => l.trim() !== "");
    for (const line of lines.length === 0 ? [value] : lines) {
      writeField(fs, {
        dir,
        file: key,
        value: line,
        field: `${R}.unified[${JSON.stringify(key)}]`,
        hint: controller === "cgroup"
          ? "no such cgroup file"
          : `no such file: the ${controller} controller is not available for this cgroup`,
      });
    }
  }
}

/** How long freezing may take before it is reported as stuck. */
const FREEZE_TIMEOUT_MS = 2000;

/** Writes cgroup.freeze 1 and waits for cgroup.events to say `frozen 1`. */
export function freezeV2(fs: CgroupFs, dir: string): void {
  writeField(fs, {
    dir,
    file: "cgroup.freeze",
    value: "1",
    field: "",
    hint: "the cgroup v2 freezer needs Linux 5.2",
  });
  const deadline = Date.now() + FREEZE_TIMEOUT_MS;
  for (let delay = 1;; delay = Math.min(delay * 2, 20)) {
    const ev = parseKeyValues(readOpt(fs, join(dir, "cgroup.events")));
    // an empty cgroup (or a kernel without cgroup.events) has nothing to wait for
    if (ev["populated"] !== 1 || ev["frozen"] === 1 || ev["frozen"] === undefined) return;
    if (Date.now() > deadline) break;
    sleepSync(delay);
  }
  try {
    fs.write(join(dir, "cgroup.freeze"), "0");
  } catch {
    // reported below
  }
  throw new CgroupError("", `cgroup ${JSON.stringify(dir)} did not freeze within 2 s`, {
    path: join(dir, "cgroup.freeze"),
    code: "ETIMEDOUT",
  });
}

/** Writes cgroup.freeze 0. */
export function thawV2(fs: CgroupFs, dir: string): void {
  writeField(fs, { dir, file: "cgroup.freeze", value: "0", field: "" });
}

/** Whether cgroup.freeze is 1. */
export function frozenV2(fs: CgroupFs, dir: string): boolean {
  return (readOpt(fs, join(dir, "cgroup.freeze")) ?? "0").trim() === "1";
}

/** Hugetlb usage from v2 files (`hugetlb.<size>.current`, `.max`, `.events`). */
export function hugetlbStatsV2(fs: CgroupFs, dir: string): Record<string, HugetlbStats> {
  const out: Record<string, HugetlbStats> = {};
  for (const size of hugePageSizes(fs, dir, "current")) {
    const p = join(dir, `hugetlb.${size}`);
    out[size] = {
      usage: readUint(fs, `${p}.current`),
      max: readUint(fs, `${p}.max`),
      failcnt: parseKeyValues(readOpt(fs, `${p}.events`))["max"] ?? 0,
    };
  }
  return out;
}

/** Parses io.stat into runc's blkio tables (bytes and operations, read and write). */
export function parseIoStat(text: string | undefined): {
  bytes: BlkioEntry[];
  ios: BlkioEntry[];
} {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? "");
    if (!m) continue;
    const major = Number(m[1]);
    const minor = Number(m[2]);
    for (const kv of kvs) {
      const [k, v] = kv.split("=");
      const value = parseUint(v);
      if (k === "rbytes") bytes.push({ major, minor, op: "Read", value });
      else if (k === "wbytes") bytes.push({ major, minor, op: "Write", value });
      else if (k === "rios") ios.push({ major, minor, op: "Read", value });
      else if (k === "wios") ios.push({ major, minor, op: "Write", value });
    }
  }
  return { bytes, ios };
}

/** Reads the stats of a v2 cgroup. */
export function statsV2(fs: CgroupFs, dir: string): Stats {
  const s = emptyStats();
  const cpu = parseKeyValues(readOpt(fs, join(dir, "cpu.stat")));
  s.cpu.usage.total = (cpu["usage_usec"] ?? 0) * 1000;
  s.cpu.usage.user = (cpu["user_usec"] ?? 0) * 1000;
  s.cpu.usage.kernel = (cpu["system_usec"] ?? 0) * 1000;
  s.cpu.throttling.periods = cpu["nr_periods"] ?? 0;
  s.cpu.throttling.throttledPeriods = cpu["nr_throttled"] ?? 0;
  s.cpu.throttling.throttledTime = (cpu["throttled_usec"] ?? 0) * 1000;

  s.memory.raw = parseKeyValues(readOpt(fs, join(dir, "memory.stat")));
  s.memory.cache = s.memory.raw["file"] ?? 0;
  const events = parseKeyValues(readOpt(fs, join(dir, "memory.events")));
  s.memory.usage = {
    usage: readUint(fs, join(dir, "memory.current")),
    max: readUint(fs, join(dir, "memory.peak")),
    limit: readUint(fs, join(dir, "memory.max")),
    failcnt: events["max"] ?? 0,
  };
  const swapLimit = readUint(fs, join(dir, "memory.swap.max"));
  s.memory.swap = {
    // v1 compatibility: memory+swap
    usage: readUint(fs, join(dir, "memory.swap.current")) + s.memory.usage.usage,
    max: readUint(fs, join(dir, "memory.swap.peak")),
    limit: swapLimit >= UNLIMITED || s.memory.usage.limit >= UNLIMITED
      ? UNLIMITED
      : swapLimit + s.memory.usage.limit,
    failcnt: parseKeyValues(readOpt(fs, join(dir, "memory.swap.events")))["max"] ?? 0,
  };

  s.pids.current = readUint(fs, join(dir, "pids.current"));
  const pidsMax = readUint(fs, join(dir, "pids.max"));
  s.pids.limit = pidsMax >= UNLIMITED ? 0 : pidsMax;

  const io = parseIoStat(readOpt(fs, join(dir, "io.stat")));
  s.blkio.ioServiceBytesRecursive = io.bytes;
  s.blkio.ioServicedRecursive = io.ios;
  s.hugetlb = hugetlbStatsV2(fs, dir);
  return s;
}

/** Options of {@linkcode V2Manager}. */
export interface V2ManagerOptions {
  /** Filesystem backend. */
  fs: CgroupFs;
  /** Where the cgroup2 hierarchy is mounted (its root cgroup). */
  mountPoint: string;
  /** The container's cgroup directory. */
  dir: string;
  /** Sends SIGKILL to a pid (default: Deno.kill). */
  kill?: (pid: number) => void;
}

/** The cgroup v2 manager. */
export class V2Manager implements CgroupManager {
  /** Always "v2". */
  readonly kind = "v2" as const;
  readonly #fs: CgroupFs;
  readonly #mount: string;
  readonly #dir: string;
  readonly #kill: (pid: number) => void;

  /** A manager for one cgroup directory. */
  constructor(o: V2ManagerOptions) {
    this.#fs = o.fs;
    this.#mount = o.mountPoint;
    this.#dir = o.dir;
    this.#kill = o.kill ?? sigkill;
  }

  /** mkdir -p, and every available controller enabled down to the cgroup. */
  create(): void {
    createWithControllers(this.#fs, this.#mount, this.#dir);
  }

  /** The one cgroup.procs. */
  procsFiles(): string[] {
    return [join(this.#dir, "cgroup.procs")];
  }

  /** `{"": dir}`, as runc records a v2 path. */
  paths(): Record<string, string> {
    return { "": this.#dir };
  }

  /** Writes every limit, device rules included. */
  apply(res: LinuxResources): void {
    this.update(res);
  }

  /** Writes the limits given; device rules, when given, get a new filter (attached first). */
  update(res: LinuxResources): void {
    applyDevicesV2(res.devices ?? [], this.#dir);
    this.#set(res);
  }

  #set(res: LinuxResources): void {
    const fs = this.#fs;
    const dir = this.#dir;
    setMemory(fs, dir, res.memory);
    setCpu(fs, dir, res.cpu);
    if (res.pids !== undefined) {
      writeField(fs, {
        dir,
        file: "pids.max",
        value: res.pids.limit > 0 ? String(res.pids.limit) : "max",
        field: `${R}.pids.limit`,
        hint: hint("pids"),
      });
    }
    setIo(fs, dir, res.blockIO);
    if ((res.hugepageLimits ?? []).length > 0) {
      applyHugetlb(fs, dir, res.hugepageLimits!, "v2");
    }
    const net = res.network;
    if (net !== undefined && (isSet(net.classID) || (net.priorities ?? []).length > 0)) {
      throw new CgroupError(
        `${R}.network`,
        "net_cls and net_prio do not exist on cgroup v2 (classify traffic with eBPF instead)",
      );
    }
    if (res.rdma !== undefined) applyRdma(fs, dir, res.rdma);
    if (res.unified !== undefined) writeUnified(fs, dir, res.unified);
  }

  /** Reads the v2 stats files. */
  stats(): Stats {
    return statsV2(this.#fs, this.#dir);
  }

  /** Pids of the cgroup and its descendants. */
  pids(): number[] {
    const set = new Set<number>();
    procsRecursive(this.#fs, this.#dir, set);
    return [...set].sort((a, b) => a - b);
  }

  /** cgroup.freeze 1, waiting for `frozen 1`. */
  freeze(): void {
    freezeV2(this.#fs, this.#dir);
  }

  /** cgroup.freeze 0. */
  thaw(): void {
    thawV2(this.#fs, this.#dir);
  }

  /** Whether cgroup.freeze is 1. */
  frozen(): boolean {
    return frozenV2(this.#fs, this.#dir);
  }

  /** `oom_kill` of memory.events. */
  oomEvents(): number {
    return parseKeyValues(readOpt(this.#fs, join(this.#dir, "memory.events")))["oom_kill"] ?? 0;
  }

  /** Kills what is left and removes the directory tree. */
  destroy(): Promise<void> {
    return destroyDirs({
      fs: this.#fs,
      dirs: [this.#dir],
      pids: () => this.pids(),
      frozen: () => this.frozen(),
      thaw: () => this.thaw(),
      kill: this.#kill,
    });
  }
}
