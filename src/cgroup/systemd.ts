/**
 * The systemd cgroup driver (`--systemd-cgroup`): on hosts where systemd owns the cgroup tree,
 * a container's cgroup is a transient scope unit that systemd creates and knows about, so it
 * never moves or kills the container's processes.
 *
 * - `linux.cgroupsPath` is `slice:prefix:name` (`system.slice:docker:abc`) and names the scope
 *   `prefix-name.scope` in that slice (`name.scope` with no prefix; slice `system.slice` when
 *   empty; an empty path is `system.slice:runts:<id>`). A nested slice `a-b.slice` lives at
 *   `/a.slice/a-b.slice`, `-.slice` is the root.
 * - The scope is started through D-Bus (`StartTransientUnit`) with the container's init as its
 *   PID, `Delegate=yes`, and the resources systemd knows as unit properties (MemoryMax,
 *   CPUWeight, CPUQuotaPerSecUSec, TasksMax, AllowedCPUs, IOWeight, DevicePolicy/DeviceAllow;
 *   MemoryLimit, CPUShares, BlockIOWeight on v1 and hybrid hosts). Every resource is then also
 *   written to the cgroup files, as by the cgroupfs managers (v1.ts, v2.ts), which this driver
 *   uses for everything a file does: controllers systemd does not manage (freezer, cpuset on
 *   v1, hugetlb...), stats, freezing, the pid list.
 * - A scope needs its first process when it is started, so this manager has `join(pid)`: the
 *   caller runs it between cloning the init and letting it go on (the init then is in the scope
 *   before it unshares its cgroup namespace).
 * - destroy() kills what is left, stops the unit (waiting until systemd has let it go) and
 *   removes any directory left in the hierarchies.
 *
 * @example
 * ```ts
 * const cg = new SystemdManager({ cgroupsPath: "system.slice:runts:web", id: "web", layout });
 * cg.create();                 // fails here, naming the D-Bus socket, when systemd is not there
 * cg.apply(resources);         // remembered until join()
 * cg.join(initPid);            // StartTransientUnit, then the cgroup files
 * ```
 * @module
 */
import type { LinuxDeviceCgroup, LinuxResources } from "../oci/spec.ts";
import {
  CgroupError,
  type CgroupFs,
  type CgroupManager,
  hostCgroupFs,
  isSet,
  sigkill,
  sleepSync,
  type Stats,
} from "./_common.ts";
import { connectSystemd, type SystemdUnits, type UnitProperty } from "./_systemd_dbus.ts";
import { blkioWeightToIoWeight, sharesToWeight } from "./v2.ts";

export type { SystemdUnits, UnitProperty } from "./_systemd_dbus.ts";
import type { SystemdPath } from "./systemd_path.ts";

/** systemd's "infinity" for unit properties of type t. */
const INFINITY = 0xffff_ffff_ffff_ffffn;

/** A cpuset list (`0-3,7`) as systemd's byte mask (bit n of byte n/8 is CPU or node n). */
export function cpusetMask(list: string, field: string): Uint8Array {
  const bits: number[] = [];
  for (const item of list.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (!m || hi < lo || hi > 8191) {
      throw new CgroupError(field, `${JSON.stringify(list)} is not a cpuset list ("0-3,7")`);
    }
    for (let i = lo; i <= hi; i++) bits.push(i);
  }
  const out = new Uint8Array(bits.length === 0 ? 0 : Math.floor(Math.max(...bits) / 8) + 1);
  for (const b of bits) out[b >> 3]! |= 1 << (b & 7);
  return out;
}

const t = (n: number | bigint): { sig: string; value: bigint } => ({
  sig: "t",
  value: typeof n === "bigint" ? n : BigInt(Math.trunc(n)),
});
const limit = (n: number) => t(n === -1 ? INFINITY : BigInt(n));

/**
 * The DeviceAllow entries and DevicePolicy for device rules: always a superset of what the
 * rules allow (the exact rules are written to the cgroup as well), so systemd never denies
 * what the container may use. `char-NAME` groups come from /proc/devices.
 */
export function deviceProperties(
  rules: LinuxDeviceCgroup[],
  procDevices: () => string = () => Deno.readTextFileSync("/proc/devices"),
): UnitProperty[] {
  const allowAll = rules.some((r) =>
    r.allow && (r.type ?? "a") === "a" && (r.major ?? -1) === -1 && (r.minor ?? -1) === -1 &&
    [..."rwm"].every((c) => (r.access ?? "rwm").includes(c))
  );
  if (allowAll) return [["DevicePolicy", { sig: "s", value: "auto" }]];
  const entries: [string, string][] = [];
  let names: Map<string, string> | undefined;
  const groupName = (type: "c" | "b", major: number): string | undefined => {
    if (names === undefined) {
      names = new Map();
      let section = "";
      try {
        for (const line of procDevices().split("\n")) {
          if (line.startsWith("Character")) section = "c";
          else if (line.startsWith("Block")) section = "b";
          const m = /^\s*(\d+)\s+(\S+)$/.exec(line);
          if (m && section !== "") names.set(`${section}${m[1]}`, m[2]!);
        }
      } catch {
        // no /proc/devices: wildcards below
      }
    }
    return names.get(`${type}${major}`);
  };
  for (const r of rules) {
    if (!r.allow) continue;
    const access = r.access ?? "rwm";
    const types: ("c" | "b")[] = (r.type ?? "a") === "a" ? ["c", "b"] : [r.type as "c" | "b"];
    for (const type of types) {
      const kind = type === "c" ? "char" : "block";
      const major = r.major ?? -1;
      const minor = r.minor ?? -1;
      if (major !== -1 && minor !== -1) {
        entries.push([`/dev/${kind}/${major}:${minor}`, access]);
      } else if (major !== -1) {
        const name = groupName(type, major);
        entries.push([name === undefined ? `${kind}-*` : `${kind}-${name}`, access]);
      } else {
        entries.push([`${kind}-*`, access]);
      }
    }
  }
  return [
    ["DevicePolicy", { sig: "s", value: "strict" }],
    ["DeviceAllow", { sig: "a(ss)", value: entries }],
  ];
}

/**
 * The unit properties for resources, with the names of systemd on a cgroup v2 host (`v2`) or a
 * v1/hybrid one (`v1`). Only what is set is listed (so update() changes only those).
 */
export function unitProperties(
  res: LinuxResources,
  mode: "v1" | "v2",
  procDevices?: () => string,
): UnitProperty[] {
  const R = "linux.resources";
  const out: UnitProperty[] = [];
  const mem = res.memory;
  if (isSet(mem?.limit)) out.push([mode === "v2" ? "MemoryMax" : "MemoryLimit", limit(mem.limit)]);
  if (mode === "v2" && isSet(mem?.reservation)) out.push(["MemoryLow", limit(mem.reservation)]);
  if (mode === "v2" && isSet(mem?.swap)) {
    if (mem.swap === -1) out.push(["MemorySwapMax", t(INFINITY)]);
    else if (isSet(mem.limit) && mem.limit > 0 && mem.swap >= mem.limit) {
      out.push(["MemorySwapMax", t(mem.swap - mem.limit)]);
    }
  }
  const cpu = res.cpu;
  if (isSet(cpu?.shares)) {
    out.push(
      mode === "v2" ? ["CPUWeight", t(sharesToWeight(cpu.shares))] : ["CPUShares", t(cpu.shares)],
    );
  }
  if (isSet(cpu?.quota) || isSet(cpu?.period)) {
    const period = isSet(cpu?.period) ? cpu.period : 100_000;
    if (isSet(cpu?.period)) out.push(["CPUQuotaPeriodUSec", t(period)]);
    if (isSet(cpu?.quota)) {
      if (cpu.quota === -1) out.push(["CPUQuotaPerSecUSec", t(INFINITY)]);
      else {
        // systemd keeps the quota per second in 10 ms steps: round up, never below what was asked.
        let perSec = Math.floor((cpu.quota * 1_000_000) / period);
        if (perSec % 10_000 !== 0) perSec = (Math.floor(perSec / 10_000) + 1) * 10_000;
        out.push(["CPUQuotaPerSecUSec", t(perSec)]);
      }
    }
  }
  if (mode === "v2" && cpu?.cpus) {
    out.push(["AllowedCPUs", { sig: "ay", value: cpusetMask(cpu.cpus, `${R}.cpu.cpus`) }]);
  }
  if (mode === "v2" && cpu?.mems) {
    out.push(["AllowedMemoryNodes", { sig: "ay", value: cpusetMask(cpu.mems, `${R}.cpu.mems`) }]);
  }
  const pids = res.pids?.limit;
  if (pids !== undefined && (pids > 0 || pids === -1)) out.push(["TasksMax", limit(pids)]);
  const w = res.blockIO?.weight;
  if (isSet(w)) {
    out.push(
      mode === "v2" ? ["IOWeight", t(blkioWeightToIoWeight(w))] : ["BlockIOWeight", t(w)],
    );
  }
  if (res.devices !== undefined) out.push(...deviceProperties(res.devices, procDevices));
  return out;
}

/** Options of {@linkcode SystemdManager}. */
export interface SystemdManagerOptions {
  /** The parsed cgroupsPath. */
  path: SystemdPath;
  /** The container id (the unit's description). */
  id: string;
  /** The cgroupfs manager of the scope's directories (v1.ts or v2.ts). */
  files: CgroupManager;
  /** Whether the host is v2 (systemd's v2 property names) or v1/hybrid. */
  mode: "v1" | "v2";
  /** Connects to systemd (default: the system bus; tests: a fake). */
  connect?: () => SystemdUnits;
  /** Filesystem backend (writing the pid into cgroup.procs). */
  fs?: CgroupFs;
  /** SIGKILL sender used by destroy(). */
  kill?: (pid: number) => void;
}

/** A container's cgroup as a systemd scope. */
export class SystemdManager implements CgroupManager {
  /** Always "systemd". */
  readonly kind = "systemd" as const;
  /** The scope unit's name. */
  readonly unit: string;
  readonly #o: SystemdManagerOptions;
  readonly #files: CgroupManager;
  #pending: LinuxResources | undefined;
  #started = false;
  /** join() found another unit of the same name running: destroy() must leave it alone. */
  #foreign = false;

  /** Builds the manager; nothing is created until join(). */
  constructor(o: SystemdManagerOptions) {
    this.#o = o;
    this.#files = o.files;
    this.unit = o.path.unit;
  }

  #connect(): SystemdUnits {
    return (this.#o.connect ?? connectSystemd)();
  }

  #with<T>(fn: (u: SystemdUnits) => T): T {
    const u = this.#connect();
    try {
      return fn(u);
    } finally {
      u.close();
    }
  }

  /** Checks that systemd answers (so a missing systemd fails before any process exists). */
  create(): void {
    this.#with(() => {});
  }

  /** The cgroup.procs files of the scope (they exist once join() has run). */
  procsFiles(): string[] {
    return this.#files.procsFiles();
  }

  /** The scope's directory in each hierarchy. */
  paths(): Record<string, string> {
    return this.#files.paths();
  }

  /** The checks of the manager of the scope's files (v1 or v2). */
  checkResources(res: LinuxResources): void {
    this.#files.checkResources?.(res);
  }

  /** Remembers the resources until join(), or sets them when the scope is there. */
  apply(res: LinuxResources): void {
    unitProperties(res, this.#o.mode); // refuse bad values before anything exists
    if (!this.#started) {
      this.#pending = res;
      return;
    }
    this.#with((u) => u.set(this.unit, unitProperties(res, this.#o.mode)));
    this.#files.apply(res);
  }

  /**
   * Starts the scope with `pid` in it, then creates what systemd does not manage, writes every
   * resource to the files and puts `pid` into every hierarchy's cgroup.
   */
  join(pid: number): void {
    const res = this.#pending ?? {};
    const props: UnitProperty[] = [
      ["Description", { sig: "s", value: `runts container ${this.#o.id}` }],
      ["Slice", { sig: "s", value: this.#o.path.slice }],
      ["Delegate", { sig: "b", value: true }],
      ["PIDs", { sig: "au", value: [pid] }],
      ["DefaultDependencies", { sig: "b", value: false }],
      ["MemoryAccounting", { sig: "b", value: true }],
      ["CPUAccounting", { sig: "b", value: true }],
      [this.#o.mode === "v2" ? "IOAccounting" : "BlockIOAccounting", { sig: "b", value: true }],
      ["TasksAccounting", { sig: "b", value: true }],
      ...unitProperties(res, this.#o.mode),
    ];
    try {
      this.#with((u) => u.start(this.unit, props));
    } catch (e) {
      if (e instanceof CgroupError && e.code === "EEXIST") this.#foreign = true;
      throw e;
    }
    this.#started = true;
    this.#files.create();
    this.#files.apply(res);
    const fs = this.#o.fs ?? hostCgroupFs;
    for (const f of this.#files.procsFiles()) {
      try {
        fs.write(f, String(pid));
      } catch (e) {
        throw new CgroupError("", `joining ${JSON.stringify(f)}: ${(e as Error).message}`);
      }
    }
  }

  /** Sets the unit properties for what is given, then the files. */
  update(res: LinuxResources): void {
    const props = unitProperties(res, this.#o.mode);
    this.#with((u) => u.set(this.unit, props));
    this.#files.update(res);
  }

  /** From the cgroup files. */
  stats(): Stats {
    return this.#files.stats();
  }

  /** From the cgroup files. */
  pids(): number[] {
    return this.#files.pids();
  }

  /** The freezer's files (systemd does not freeze a scope on these versions). */
  freeze(): void {
    this.#files.freeze();
  }

  /** Thaws. */
  thaw(): void {
    this.#files.thaw();
  }

  /** Whether frozen. */
  frozen(): boolean {
    return this.#files.frozen();
  }

  /** From memory.events / memory.oom_control. */
  oomEvents(): number {
    return this.#files.oomEvents();
  }

  /**
   * Kills what is left (a container's init ignores the SIGTERM systemd would send first),
   * stops the scope, then removes whatever is left in the hierarchies. Does nothing after a
   * join() that found the unit already running (it belongs to someone else).
   */
  async destroy(): Promise<void> {
    if (this.#foreign) return;
    const kill = this.#o.kill ?? sigkill;
    let wasFrozen = false;
    try {
      wasFrozen = this.#files.frozen();
    } catch {
      // no freezer file: not frozen
    }
    for (const pid of this.#files.pids()) kill(pid);
    if (wasFrozen) {
      try {
        this.#files.thaw();
      } catch {
        // gone already
      }
    }
    for (let i = 0, delay = 1; i < 40 && this.#files.pids().length > 0; i++) {
      for (const pid of this.#files.pids()) kill(pid);
      sleepSync(delay);
      delay = Math.min(delay * 2, 50);
    }
    this.#with((u) => u.stop(this.unit));
    await this.#files.destroy();
  }
}
