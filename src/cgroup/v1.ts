/**
 * The cgroup v1 manager: one directory per mounted v1 hierarchy (cpu, cpuacct, cpuset,
 * memory, devices, freezer, blkio, pids, name=systemd, ...), as runc's fs manager joins them
 * all. On a hybrid host it also manages the container's directory in the cgroup2 hierarchy
 * (/sys/fs/cgroup/unified): the init joins it too, hugetlb limits go there when hugetlb is
 * bound to cgroup2 (as on these machines), and `linux.resources.unified` is written there.
 * @module
 */
import type {
  LinuxBlockIO,
  LinuxCPU,
  LinuxDeviceCgroup,
  LinuxMemory,
  LinuxResources,
} from "../oci/spec.ts";
import {
  type BlkioEntry,
  CgroupError,
  type CgroupFs,
  type CgroupManager,
  destroyDirs,
  devNo,
  emptyStats,
  errCode,
  type HugetlbStats,
  isSet,
  join,
  type MemoryEntry,
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
import { DeviceEmulator, ruleLine } from "./device_emulator.ts";
import {
  applyDevicesV2,
  applyHugetlb,
  applyRdma,
  createWithControllers,
  freezeV2,
  frozenV2,
  hugePageSizes,
  hugetlbStatsV2,
  thawV2,
  writeUnified,
} from "./v2.ts";

const R = "linux.resources";

/** One v1 hierarchy and the container's directory in it. */
export interface V1Hierarchy {
  /** Its controllers (`["cpu", "cpuacct"]`, `["name=systemd"]`). */
  controllers: string[];
  /** Where it is mounted. */
  mountPoint: string;
  /** The container's cgroup directory. */
  dir: string;
}

/** Options of {@linkcode V1Manager}. */
export interface V1ManagerOptions {
  /** Filesystem backend. */
  fs: CgroupFs;
  /** The v1 hierarchies to manage. */
  hierarchies: V1Hierarchy[];
  /** The cgroup2 hierarchy of a hybrid host and the container's directory in it. */
  unified?: { mountPoint: string; dir: string };
  /** Sends SIGKILL to a pid (default: Deno.kill). */
  kill?: (pid: number) => void;
}

/** Nanoseconds per USER_HZ tick (cpuacct.stat; USER_HZ is 100 on Linux). */
const NS_PER_TICK = 1e9 / 100;
const FREEZE_TIMEOUT_MS = 2000;

/** Parses a blkio stats file (`8:0 Read 1234` lines; `Total` lines skipped). */
export function parseBlkioFile(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const f = line.trim().split(/[\s:]+/).filter((x) => x !== "");
    if (f.length < 3 || !/^\d+$/.test(f[0]!) || !/^\d+$/.test(f[1]!)) continue;
    const op = f.length >= 4 ? f[2]! : "";
    out.push({
      major: Number(f[0]),
      minor: Number(f[1]),
      op,
      value: parseUint(f.length >= 4 ? f[3] : f[2]),
    });
  }
  return out;
}

/** The blkio stat file groups, in runc's order of preference (bfq, cfq, throttle). */
const BLKIO_GROUPS: [file: string, key: keyof Stats["blkio"]][][] = [
  [
    ["blkio.bfq.sectors_recursive", "sectorsRecursive"],
    ["blkio.bfq.io_service_time_recursive", "ioServiceTimeRecursive"],
    ["blkio.bfq.io_wait_time_recursive", "ioWaitTimeRecursive"],
    ["blkio.bfq.io_merged_recursive", "ioMergedRecursive"],
    ["blkio.bfq.io_queued_recursive", "ioQueueRecursive"],
    ["blkio.bfq.time_recursive", "ioTimeRecursive"],
    ["blkio.bfq.io_serviced_recursive", "ioServicedRecursive"],
    ["blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"],
  ],
  [
    ["blkio.bfq.io_serviced_recursive", "ioServicedRecursive"],
    ["blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"],
  ],
  [
    ["blkio.sectors_recursive", "sectorsRecursive"],
    ["blkio.io_service_time_recursive", "ioServiceTimeRecursive"],
    ["blkio.io_wait_time_recursive", "ioWaitTimeRecursive"],
    ["blkio.io_merged_recursive", "ioMergedRecursive"],
    ["blkio.io_queued_recursive", "ioQueueRecursive"],
    ["blkio.time_recursive", "ioTimeRecursive"],
    ["blkio.io_serviced_recursive", "ioServicedRecursive"],
    ["blkio.io_service_bytes_recursive", "ioServiceBytesRecursive"],
  ],
  [
    ["blkio.throttle.io_serviced_recursive", "ioServicedRecursive"],
    ["blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive"],
  ],
  [
    ["blkio.throttle.io_serviced", "ioServicedRecursive"],
    ["blkio.throttle.io_service_bytes", "ioServiceBytesRecursive"],
  ],
];

/** The OCI resource that sets what a cgroup v2 controller's files set. */
const V1_RESOURCE: Record<string, keyof LinuxResources> = {
  memory: "memory",
  cpu: "cpu",
  cpuset: "cpu",
  io: "blockIO",
  pids: "pids",
  hugetlb: "hugepageLimits",
  rdma: "rdma",
};

/** The cgroup v1 manager (also for hybrid hosts). */
export class V1Manager implements CgroupManager {
  /** Always "v1" (a hybrid host too). */
  readonly kind = "v1" as const;
  readonly #fs: CgroupFs;
  readonly #hs: V1Hierarchy[];
  readonly #unified: { mountPoint: string; dir: string } | undefined;
  readonly #kill: (pid: number) => void;

  /** A manager for the given hierarchies. */
  constructor(o: V1ManagerOptions) {
    this.#fs = o.fs;
    this.#hs = o.hierarchies;
    this.#unified = o.unified;
    this.#kill = o.kill ?? sigkill;
  }

  /** Whether the host is hybrid (a cgroup2 directory is managed too). */
  get hybrid(): boolean {
    return this.#unified !== undefined;
  }

  /**
   * Checks, before anything is created, that `linux.resources.unified` can be applied here:
   * each key's controller must be available in the cgroup2 hierarchy (on a hybrid host most
   * controllers are bound to v1 hierarchies, and their v2 files do not exist).
   *
   * @throws {CgroupError} one error naming every key that cannot be set, and the v1 resource
   * that sets the same thing (or conflicts with it, when both are given)
   */
  checkResources(res: LinuxResources): void {
    const keys = Object.keys(res.unified ?? {});
    if (keys.length === 0) return;
    const u = this.#unified;
    if (u === undefined) {
      throw new CgroupError(
        `${R}.unified`,
        `cgroup v2 files (${keys.join(", ")}) cannot be set: this host has only cgroup v1 ` +
          "hierarchies",
      );
    }
    const available = (readOpt(this.#fs, join(u.mountPoint, "cgroup.controllers")) ?? "").trim()
      .split(/\s+/).filter((c) => c !== "");
    const bad = keys.filter((k) => {
      const c = k.split(".")[0]!;
      return c !== "cgroup" && !available.includes(c);
    });
    if (bad.length === 0) return;
    const controllers = [...new Set(bad.map((k) => k.split(".")[0]!))];
    const v1Field = (c: string) => V1_RESOURCE[c];
    const given = controllers.map(v1Field).filter((f): f is keyof LinuxResources =>
      f !== undefined && res[f] !== undefined
    );
    const alt = [...new Set(controllers.map(v1Field).filter((f) => f !== undefined))];
    throw new CgroupError(
      `${R}.unified`,
      `${bad.map((k) => JSON.stringify(k)).join(", ")} cannot be set: this host is hybrid and ` +
        `its ${controllers.join(", ")} controller${controllers.length > 1 ? "s are" : " is"} ` +
        `bound to cgroup v1 (the cgroup2 hierarchy at ${u.mountPoint} has ${
          available.length === 0 ? "no controller" : `only ${available.join(", ")}`
        })` +
        (given.length > 0
          ? `; ${given.map((f) => `${R}.${f}`).join(", ")} ` +
            `${given.length > 1 ? "are" : "is"} given too and applied through cgroup v1: ` +
            "set each limit in one place"
          : alt.length > 0
          ? `; set ${alt.map((f) => `${R}.${f}`).join(", ")} instead`
          : ""),
    );
  }

  /** The container's directory in the hierarchy of a controller, if it is mounted. */
  dirOf(controller: string): string | undefined {
    return this.#hs.find((h) => h.controllers.includes(controller))?.dir;
  }

  #need(controller: string, field: string): string {
    const dir = this.dirOf(controller);
    if (dir === undefined) {
      throw new CgroupError(
        field,
        `the ${controller} cgroup controller is not mounted on this host`,
      );
    }
    return dir;
  }

  /** mkdir -p in every hierarchy; cpuset directories get their parent's cpus and mems. */
  create(): void {
    for (const h of this.#hs) {
      if (h.controllers.includes("cpuset")) this.#createCpuset(h);
      else this.#fs.mkdirAll(h.dir);
    }
    if (this.#unified !== undefined) this.#fs.mkdirAll(this.#unified.dir);
  }

  /** A new cpuset cgroup has empty cpus/mems and refuses tasks: copy them down level by level. */
  #createCpuset(h: V1Hierarchy): void {
    const fs = this.#fs;
    const rel = h.dir.startsWith(h.mountPoint) ? h.dir.slice(h.mountPoint.length) : h.dir;
    let parent = h.mountPoint;
    for (const part of rel.split("/").filter((p) => p !== "")) {
      const cur = join(parent, part);
      if (!fs.exists(cur)) fs.mkdirAll(cur);
      for (const file of ["cpuset.cpus", "cpuset.mems"]) {
        const mine = readOpt(fs, join(cur, file));
        if (mine === undefined || mine.trim() !== "") continue;
        const theirs = (readOpt(fs, join(parent, file)) ?? "").trim();
        if (theirs === "") continue;
        writeField(fs, { dir: cur, file, value: theirs, field: "" });
      }
      parent = cur;
    }
  }

  /** cgroup.procs of every hierarchy, and of the cgroup2 directory on a hybrid host. */
  procsFiles(): string[] {
    const out = this.#hs.map((h) => join(h.dir, "cgroup.procs"));
    if (this.#unified !== undefined) out.push(join(this.#unified.dir, "cgroup.procs"));
    return out;
  }

  /** Directory per controller (runc's keys; "" for the hybrid cgroup2 directory). */
  paths(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const h of this.#hs) for (const c of h.controllers) out[c] = h.dir;
    if (this.#unified !== undefined) out[""] = this.#unified.dir;
    return out;
  }

  /** Writes every limit, device rules included. */
  apply(res: LinuxResources): void {
    this.update(res);
  }

  /**
   * Writes the limits given; device rules, when given, are brought in with the fewest writes
   * (none when the cgroup has them already), never allowing for a moment what they deny.
   */
  update(res: LinuxResources): void {
    if ((res.devices ?? []).length > 0) this.#setDevices(res.devices!);
    this.#set(res);
  }

  /**
   * Takes the devices cgroup from the rules it has (devices.list) to `rules` with the fewest
   * writes, denies before allows, so no process of the cgroup can open a device the rules deny
   * at any moment; a cgroup that has the rules already gets no write. A change that must pass
   * through allow-all (a new default of allow-all with deny exceptions) is made with the
   * cgroup frozen. The result is read back and compared. Without a v1 devices hierarchy on a
   * hybrid host, the rules go to an eBPF filter on the cgroup2 directory.
   */
  #setDevices(rules: LinuxDeviceCgroup[]): void {
    const target = DeviceEmulator.fromSpec(rules);
    const dir = this.dirOf("devices");
    if (dir === undefined && this.#unified !== undefined) {
      return applyDevicesV2(rules, this.#unified.dir);
    }
    if (dir === undefined) this.#need("devices", `${R}.devices`);
    const fs = this.#fs;
    const list = () => DeviceEmulator.fromList(readOpt(fs, join(dir!, "devices.list")) ?? "");
    const current = list();
    const steps = current.transition(target);
    if (steps.length === 0) return;
    const freeze = current.opensWindowTo(target) && this.pids().length > 0 &&
      this.#hasFreezer() && !this.#isFrozen();
    if (freeze) this.freeze();
    try {
      for (const r of steps) {
        writeField(fs, {
          dir: dir!,
          file: r.allow ? "devices.allow" : "devices.deny",
          value: ruleLine(r),
          field: `${R}.devices`,
        });
      }
    } finally {
      if (freeze) this.thaw();
    }
    const after = list();
    if (target.defaultAllow ? !after.defaultAllow : !after.equals(target)) {
      throw new CgroupError(
        `${R}.devices`,
        `the devices cgroup ${JSON.stringify(dir)} does not hold the rules after writing them ` +
          `(devices.list: ${JSON.stringify(readOpt(fs, join(dir!, "devices.list")) ?? "")})`,
        { path: join(dir!, "devices.list") },
      );
    }
  }

  #hasFreezer(): boolean {
    try {
      this.#freezer();
      return true;
    } catch {
      return false;
    }
  }

  #isFrozen(): boolean {
    try {
      return this.frozen();
    } catch {
      return false;
    }
  }

  #set(res: LinuxResources): void {
    this.#setMemory(res.memory);
    this.#setCpu(res.cpu);
    if (res.pids !== undefined) {
      writeField(this.#fs, {
        dir: this.#need("pids", `${R}.pids`),
        file: "pids.max",
        value: res.pids.limit > 0 ? String(res.pids.limit) : "max",
        field: `${R}.pids.limit`,
      });
    }
    this.#setBlkio(res.blockIO);
    this.#setHugetlb(res);
    this.#setNetwork(res);
    if (res.rdma !== undefined && Object.keys(res.rdma).length > 0) {
      applyRdma(this.#fs, this.#need("rdma", `${R}.rdma`), res.rdma);
    }
    if (res.unified !== undefined && Object.keys(res.unified).length > 0) {
      const u = this.#unified;
      if (u === undefined) {
        throw new CgroupError(
          `${R}.unified`,
          "cgroup v2 files cannot be set: this host has only cgroup v1 hierarchies",
        );
      }
      writeUnified(this.#fs, u.dir, res.unified, (c) => this.#enableUnified(c));
    }
  }

  #enableUnified(controller: string): void {
    const u = this.#unified!;
    createWithControllers(this.#fs, u.mountPoint, u.dir, [controller]);
  }

  #setMemory(m: LinuxMemory | undefined): void {
    if (m === undefined) return;
    const F = `${R}.memory`;
    const fs = this.#fs;
    const wants = isSet(m.limit) || isSet(m.swap) || isSet(m.reservation) ||
      (m.swappiness !== undefined && m.swappiness !== -1) || m.disableOOMKiller === true ||
      isSet(m.kernel) || isSet(m.kernelTCP);
    if (!wants) return;
    const dir = this.#need("memory", F);
    const memsw = "memory.memsw.limit_in_bytes";
    const noSwapHint = "swap accounting is not enabled in this kernel (boot with swapaccount=1)";
    const limit = m.limit ?? 0;
    let swap = m.swap ?? 0;
    if (limit === -1 && swap === 0 && fs.exists(join(dir, memsw))) swap = -1;
    const setLimit = () => {
      if (limit === 0) return;
      try {
        fs.write(join(dir, "memory.limit_in_bytes"), String(limit));
      } catch (e) {
        if (errCode(e) !== "EBUSY") {
          writeField(fs, {
            dir,
            file: "memory.limit_in_bytes",
            value: String(limit),
            field: `${F}.limit`,
          });
        }
        const usage = readUint(fs, join(dir, "memory.usage_in_bytes"));
        const peak = readUint(fs, join(dir, "memory.max_usage_in_bytes"));
        throw new CgroupError(
          `${F}.limit`,
          `unable to set the memory limit to ${limit} (current usage: ${usage}, peak usage: ${peak})`,
          { path: join(dir, "memory.limit_in_bytes"), code: "EBUSY" },
        );
      }
    };
    const setSwap = () => {
      if (swap === 0) return;
      writeField(fs, {
        dir,
        file: memsw,
        value: String(swap),
        field: `${F}.swap`,
        hint: noSwapHint,
      });
    };
    // the kernel keeps memsw >= limit at every step: raise memsw first, lower limit first
    const current = readUint(fs, join(dir, "memory.limit_in_bytes"));
    if (limit !== 0 && swap !== 0 && (swap === -1 || current < swap)) {
      setSwap();
      setLimit();
    } else {
      setLimit();
      setSwap();
    }
    if (isSet(m.reservation)) {
      writeField(fs, {
        dir,
        file: "memory.soft_limit_in_bytes",
        value: String(m.reservation),
        field: `${F}.reservation`,
      });
    }
    if (m.swappiness !== undefined && m.swappiness !== -1) {
      if (m.swappiness < 0 || m.swappiness > 100) {
        throw new CgroupError(`${F}.swappiness`, `must be between 0 and 100, not ${m.swappiness}`);
      }
      writeField(fs, {
        dir,
        file: "memory.swappiness",
        value: String(m.swappiness),
        field: `${F}.swappiness`,
      });
    }
    if (m.disableOOMKiller === true) {
      writeField(fs, {
        dir,
        file: "memory.oom_control",
        value: "1",
        field: `${F}.disableOOMKiller`,
      });
    }
    // kernel memory limits are deprecated; runc ignores them. Written where the kernel still
    // has the file, and a refusal is tolerated.
    for (
      const [v, file] of [[m.kernel, "memory.kmem.limit_in_bytes"], [
        m.kernelTCP,
        "memory.kmem.tcp.limit_in_bytes",
      ]] as const
    ) {
      if (!isSet(v) || !fs.exists(join(dir, file))) continue;
      try {
        fs.write(join(dir, file), String(v));
      } catch {
        // EOPNOTSUPP on kernels that dropped kmem limits
      }
    }
  }

  #setCpu(c: LinuxCPU | undefined): void {
    if (c === undefined) return;
    const F = `${R}.cpu`;
    const fs = this.#fs;
    const needsCpu = isSet(c.shares) || isSet(c.quota) || isSet(c.period) ||
      isSet(c.realtimePeriod) || isSet(c.realtimeRuntime) || c.burst !== undefined ||
      c.idle !== undefined;
    if (needsCpu) {
      const dir = this.#need("cpu", F);
      if (isSet(c.shares)) {
        writeField(fs, { dir, file: "cpu.shares", value: String(c.shares), field: `${F}.shares` });
        const got = readUint(fs, join(dir, "cpu.shares"));
        if (c.shares > got) {
          throw new CgroupError(`${F}.shares`, `the maximum allowed cpu-shares is ${got}`);
        }
        if (c.shares < got) {
          throw new CgroupError(`${F}.shares`, `the minimum allowed cpu-shares is ${got}`);
        }
      }
      let retryPeriod = false;
      if (isSet(c.period)) {
        try {
          fs.write(join(dir, "cpu.cfs_period_us"), String(c.period));
        } catch (e) {
          // a smaller period can make old_quota/new_period exceed the parent's: retry after
          // the quota is written
          if (errCode(e) !== "EINVAL" || !isSet(c.quota)) {
            writeField(fs, {
              dir,
              file: "cpu.cfs_period_us",
              value: String(c.period),
              field: `${F}.period`,
            });
          }
          retryPeriod = true;
        }
      }
      if (isSet(c.quota)) {
        writeField(fs, {
          dir,
          file: "cpu.cfs_quota_us",
          value: String(c.quota),
          field: `${F}.quota`,
        });
        if (retryPeriod) {
          writeField(fs, {
            dir,
            file: "cpu.cfs_period_us",
            value: String(c.period),
            field: `${F}.period`,
          });
        }
      }
      if (c.burst !== undefined) {
        writeField(fs, {
          dir,
          file: "cpu.cfs_burst_us",
          value: String(c.burst),
          field: `${F}.burst`,
          hint: "this kernel has no cpu.cfs_burst_us (Linux 5.14+)",
        });
      }
      if (isSet(c.realtimePeriod)) {
        writeField(fs, {
          dir,
          file: "cpu.rt_period_us",
          value: String(c.realtimePeriod),
          field: `${F}.realtimePeriod`,
          hint: "this kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED)",
        });
      }
      if (isSet(c.realtimeRuntime)) {
        writeField(fs, {
          dir,
          file: "cpu.rt_runtime_us",
          value: String(c.realtimeRuntime),
          field: `${F}.realtimeRuntime`,
          hint: "this kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED)",
        });
      }
      if (c.idle !== undefined) {
        writeField(fs, {
          dir,
          file: "cpu.idle",
          value: String(c.idle),
          field: `${F}.idle`,
          hint: "this kernel has no cpu.idle (Linux 5.15+)",
        });
      }
    }
    for (const key of ["cpus", "mems"] as const) {
      const v = c[key];
      if (v === undefined || v === "") continue;
      writeField(fs, {
        dir: this.#need("cpuset", `${F}.${key}`),
        file: `cpuset.${key}`,
        value: v,
        field: `${F}.${key}`,
      });
    }
  }

  #setBlkio(b: LinuxBlockIO | undefined): void {
    if (b === undefined) return;
    const F = `${R}.blockIO`;
    const fs = this.#fs;
    const throttles = [
      ["throttleReadBpsDevice", "blkio.throttle.read_bps_device"],
      ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device"],
      ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device"],
      ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"],
    ] as const;
    const wants = isSet(b.weight) || isSet(b.leafWeight) || (b.weightDevice ?? []).length > 0 ||
      throttles.some(([k]) => (b[k] ?? []).length > 0);
    if (!wants) return;
    const dir = this.#need("blkio", F);
    // CFQ kernels have blkio.weight; BFQ ones blkio.bfq.weight; a kernel with neither (no BFQ
    // scheduler built or loaded, CFQ gone since Linux 5.0) has no I/O weights at all, and the
    // weight is refused, as runc refuses it (it fails opening blkio.bfq.weight).
    const cfq = fs.exists(join(dir, "blkio.weight"));
    const weightFile = cfq ? "blkio.weight" : "blkio.bfq.weight";
    const weightDevFile = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";
    const noFile = "this kernel's I/O scheduler has no such setting";
    const wantsWeight = isSet(b.weight) || (b.weightDevice ?? []).some((d) => isSet(d.weight));
    if (wantsWeight && !cfq && !fs.exists(join(dir, "blkio.bfq.weight"))) {
      const field = isSet(b.weight)
        ? `${F}.weight`
        : `${F}.weightDevice[${(b.weightDevice ?? []).findIndex((d) => isSet(d.weight))}].weight`;
      throw new CgroupError(
        field,
        "this kernel has no I/O weight to set: the BFQ I/O scheduler is not available " +
          "(no blkio.bfq.weight; CONFIG_IOSCHED_BFQ, modprobe bfq) and there is no CFQ " +
          "(no blkio.weight)",
        { path: join(dir, "blkio.bfq.weight"), code: "ENOENT" },
      );
    }
    if (isSet(b.weight)) {
      writeField(fs, {
        dir,
        file: weightFile,
        value: String(b.weight),
        field: `${F}.weight`,
        hint: noFile,
      });
    }
    if (isSet(b.leafWeight)) {
      writeField(fs, {
        dir,
        file: "blkio.leaf_weight",
        value: String(b.leafWeight),
        field: `${F}.leafWeight`,
        hint: "leaf weights exist only with the CFQ I/O scheduler",
      });
    }
    (b.weightDevice ?? []).forEach((d, i) => {
      if (isSet(d.weight)) {
        writeField(fs, {
          dir,
          file: weightDevFile,
          value: `${devNo(d)} ${d.weight}`,
          field: `${F}.weightDevice[${i}].weight`,
          hint: noFile,
        });
      }
      if (isSet(d.leafWeight)) {
        writeField(fs, {
          dir,
          file: "blkio.leaf_weight_device",
          value: `${devNo(d)} ${d.leafWeight}`,
          field: `${F}.weightDevice[${i}].leafWeight`,
          hint: "leaf weights exist only with the CFQ I/O scheduler",
        });
      }
    });
    for (const [key, file] of throttles) {
      (b[key] ?? []).forEach((d, i) => {
        writeField(fs, {
          dir,
          file,
          value: `${devNo(d)} ${d.rate}`,
          field: `${F}.${key}[${i}]`,
          hint: "this kernel has no blkio throttling (CONFIG_BLK_DEV_THROTTLING)",
        });
      });
    }
  }

  #setHugetlb(res: LinuxResources): void {
    const limits = res.hugepageLimits ?? [];
    if (limits.length === 0) return;
    const v1 = this.dirOf("hugetlb");
    if (v1 !== undefined) return applyHugetlb(this.#fs, v1, limits, "v1");
    const u = this.#unified;
    const available = u === undefined
      ? []
      : (readOpt(this.#fs, join(u.mountPoint, "cgroup.controllers")) ?? "")
        .trim().split(/\s+/);
    if (u === undefined || !available.includes("hugetlb")) {
      throw new CgroupError(
        `${R}.hugepageLimits`,
        "the hugetlb cgroup controller is not available on this host",
      );
    }
    this.#enableUnified("hugetlb");
    applyHugetlb(this.#fs, u.dir, limits, "v2");
  }

  #setNetwork(res: LinuxResources): void {
    const n = res.network;
    if (n === undefined) return;
    const F = `${R}.network`;
    if (isSet(n.classID)) {
      writeField(this.#fs, {
        dir: this.#need("net_cls", `${F}.classID`),
        file: "net_cls.classid",
        value: String(n.classID),
        field: `${F}.classID`,
      });
    }
    (n.priorities ?? []).forEach((p, i) => {
      writeField(this.#fs, {
        dir: this.#need("net_prio", `${F}.priorities`),
        file: "net_prio.ifpriomap",
        value: `${p.name} ${p.priority}`,
        field: `${F}.priorities[${i}]`,
      });
    });
  }

  /** Reads cpuacct, cpu, memory, pids, blkio and hugetlb stats of the hierarchies present. */
  stats(): Stats {
    const fs = this.#fs;
    const u = this.#unified;
    const s = emptyStats();
    const acct = this.dirOf("cpuacct");
    if (acct !== undefined) {
      const list = (f: string) =>
        (readOpt(fs, join(acct, f)) ?? "").trim().split(/\s+/).filter((x) => x !== "").map(
          parseUint,
        );
      s.cpu.usage.total = readUint(fs, join(acct, "cpuacct.usage"));
      s.cpu.usage.percpu = list("cpuacct.usage_percpu");
      s.cpu.usage.percpu_kernel = list("cpuacct.usage_percpu_sys");
      s.cpu.usage.percpu_user = list("cpuacct.usage_percpu_user");
      const st = parseKeyValues(readOpt(fs, join(acct, "cpuacct.stat")));
      s.cpu.usage.user = (st["user"] ?? 0) * NS_PER_TICK;
      s.cpu.usage.kernel = (st["system"] ?? 0) * NS_PER_TICK;
    }
    const cpu = this.dirOf("cpu");
    if (cpu !== undefined) {
      const st = parseKeyValues(readOpt(fs, join(cpu, "cpu.stat")));
      s.cpu.throttling = {
        periods: st["nr_periods"] ?? 0,
        throttledPeriods: st["nr_throttled"] ?? 0,
        throttledTime: st["throttled_time"] ?? 0,
      };
    }
    const mem = this.dirOf("memory");
    if (mem !== undefined) {
      const entry = (prefix: string): MemoryEntry => ({
        usage: readUint(fs, join(mem, `${prefix}.usage_in_bytes`)),
        max: readUint(fs, join(mem, `${prefix}.max_usage_in_bytes`)),
        limit: readUint(fs, join(mem, `${prefix}.limit_in_bytes`)),
        failcnt: readUint(fs, join(mem, `${prefix}.failcnt`)),
      });
      s.memory.raw = parseKeyValues(readOpt(fs, join(mem, "memory.stat")));
      s.memory.cache = s.memory.raw["cache"] ?? 0;
      s.memory.usage = entry("memory");
      s.memory.swap = entry("memory.memsw");
      s.memory.kernel = entry("memory.kmem");
      s.memory.kernelTCP = entry("memory.kmem.tcp");
    }
    const pids = this.dirOf("pids");
    if (pids !== undefined) {
      s.pids.current = readUint(fs, join(pids, "pids.current"));
      const max = readUint(fs, join(pids, "pids.max"));
      s.pids.limit = max >= UNLIMITED ? 0 : max;
    }
    const blkio = this.dirOf("blkio");
    if (blkio !== undefined) {
      for (const group of BLKIO_GROUPS) {
        const first = parseBlkioFile(readOpt(fs, join(blkio, group[0]![0])));
        if (first.length === 0) continue;
        for (const [file, key] of group) {
          s.blkio[key] = parseBlkioFile(readOpt(fs, join(blkio, file)));
        }
        break;
      }
    }
    const huge = this.dirOf("hugetlb");
    if (huge !== undefined) {
      const out: Record<string, HugetlbStats> = {};
      for (const size of hugePageSizes(fs, huge, "usage_in_bytes")) {
        const p = join(huge, `hugetlb.${size}`);
        out[size] = {
          usage: readUint(fs, `${p}.usage_in_bytes`),
          max: readUint(fs, `${p}.max_usage_in_bytes`),
          failcnt: readUint(fs, `${p}.failcnt`),
        };
      }
      s.hugetlb = out;
    } else if (u !== undefined) {
      s.hugetlb = hugetlbStatsV2(fs, u.dir);
    }
    return s;
  }

  /** Pids in any of the cgroup's directories (and their descendants), sorted. */
  pids(): number[] {
    const set = new Set<number>();
    for (const h of this.#hs) procsRecursive(this.#fs, h.dir, set);
    if (this.#unified !== undefined) procsRecursive(this.#fs, this.#unified.dir, set);
    return [...set].sort((a, b) => a - b);
  }

  #freezer(): { v: 1; dir: string } | { v: 2; dir: string } {
    const dir = this.dirOf("freezer");
    if (dir !== undefined) return { v: 1, dir };
    const u = this.#unified;
    if (u !== undefined && this.#fs.exists(join(u.dir, "cgroup.freeze"))) {
      return { v: 2, dir: u.dir };
    }
    throw new CgroupError("", "pausing needs the freezer cgroup controller, which is not mounted");
  }

  /** Writes FROZEN to freezer.state until it reads FROZEN (cgroup.freeze without a freezer). */
  freeze(): void {
    const f = this.#freezer();
    if (f.v === 2) return freezeV2(this.#fs, f.dir);
    const fs = this.#fs;
    const state = join(f.dir, "freezer.state");
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    let lastWrite = 0;
    for (let delay = 1;; delay = Math.min(delay * 2, 10)) {
      // re-request now and then: tasks that were busy (vfork) get another chance
      if (Date.now() - lastWrite >= 100) {
        writeField(fs, { dir: f.dir, file: "freezer.state", value: "FROZEN", field: "" });
        lastWrite = Date.now();
      }
      if ((readOpt(fs, state) ?? "").trim() === "FROZEN") return;
      if (Date.now() > deadline) break;
      sleepSync(delay);
    }
    try {
      fs.write(state, "THAWED");
    } catch {
      // reported below
    }
    throw new CgroupError("", `cgroup ${JSON.stringify(f.dir)} did not freeze within 2 s`, {
      path: state,
      code: "ETIMEDOUT",
    });
  }

  /** Writes THAWED (cgroup.freeze 0 without a freezer). */
  thaw(): void {
    const f = this.#freezer();
    if (f.v === 2) return thawV2(this.#fs, f.dir);
    writeField(this.#fs, { dir: f.dir, file: "freezer.state", value: "THAWED", field: "" });
  }

  /** Whether freezer.state reads FROZEN. */
  frozen(): boolean {
    const f = this.#freezer();
    if (f.v === 2) return frozenV2(this.#fs, f.dir);
    return (readOpt(this.#fs, join(f.dir, "freezer.state")) ?? "").trim() === "FROZEN";
  }

  /** `oom_kill` of memory.oom_control. */
  oomEvents(): number {
    const dir = this.dirOf("memory");
    if (dir === undefined) return 0;
    return parseKeyValues(readOpt(this.#fs, join(dir, "memory.oom_control")))["oom_kill"] ?? 0;
  }

  /** Kills what is left and removes the directories of every hierarchy. */
  destroy(): Promise<void> {
    const dirs = this.#hs.map((h) => h.dir);
    if (this.#unified !== undefined) dirs.push(this.#unified.dir);
    return destroyDirs({
      fs: this.#fs,
      dirs,
      pids: () => this.pids(),
      frozen: () => {
        try {
          return this.frozen();
        } catch {
          return false;
        }
      },
      thaw: () => this.thaw(),
      kill: this.#kill,
    });
  }
}
