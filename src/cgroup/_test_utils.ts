/**
 * A temp directory that behaves like /sys/fs/cgroup for the cgroup unit tests: v1, v2 or
 * hybrid (this machine's layout). mkdir fills a new cgroup with the files the kernel would
 * create (with their default contents), writes never create files, cgroup.subtree_control
 * merges `+ctrl` and adds the controller's files to the children, rmdir takes the control files
 * with it and fails with EBUSY while sub-cgroups exist. Every write/mkdir/rmdir is recorded.
 * (Test-only; Deno std's `_test_utils.ts` convention.)
 * @module
 */
import { type CgroupFs, hostCgroupFs, RecordingCgroupFs } from "./_common.ts";
import { ACC_ALL, accessBits, DeviceEmulator, ruleLine } from "./device_emulator.ts";

/** Files of a new v1 cgroup, per hierarchy directory. */
const V1_FILES: Record<string, Record<string, string>> = {
  cpu: {
    "cpu.shares": "1024\n",
    "cpu.cfs_period_us": "100000\n",
    "cpu.cfs_quota_us": "-1\n",
    "cpu.cfs_burst_us": "0\n",
    "cpu.rt_period_us": "1000000\n",
    "cpu.rt_runtime_us": "0\n",
    "cpu.idle": "0\n",
    "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
  },
  cpuacct: {
    "cpuacct.usage": "0\n",
    "cpuacct.usage_percpu": "0 0 \n",
    "cpuacct.usage_percpu_sys": "0 0 \n",
    "cpuacct.usage_percpu_user": "0 0 \n",
    "cpuacct.stat": "user 0\nsystem 0\n",
  },
  cpuset: { "cpuset.cpus": "\n", "cpuset.mems": "\n" },
  memory: {
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.memsw.limit_in_bytes": "9223372036854771712\n",
    "memory.soft_limit_in_bytes": "9223372036854771712\n",
    "memory.kmem.limit_in_bytes": "9223372036854771712\n",
    "memory.kmem.tcp.limit_in_bytes": "9223372036854771712\n",
    "memory.usage_in_bytes": "0\n",
    "memory.max_usage_in_bytes": "0\n",
    "memory.failcnt": "0\n",
    "memory.memsw.usage_in_bytes": "0\n",
    "memory.memsw.max_usage_in_bytes": "0\n",
    "memory.memsw.failcnt": "0\n",
    "memory.swappiness": "60\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    "memory.use_hierarchy": "1\n",
    "memory.stat": "cache 0\nrss 0\n",
  },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n" },
  freezer: { "freezer.state": "THAWED\n" },
  blkio: {
    "blkio.bfq.weight": "100\n",
    "blkio.bfq.weight_device": "default 100\n",
    "blkio.bfq.io_serviced_recursive": "Total 0\n",
    "blkio.bfq.io_service_bytes_recursive": "Total 0\n",
    "blkio.throttle.read_bps_device": "",
    "blkio.throttle.write_bps_device": "",
    "blkio.throttle.read_iops_device": "",
    "blkio.throttle.write_iops_device": "",
    "blkio.throttle.io_serviced_recursive": "Total 0\n",
    "blkio.throttle.io_service_bytes_recursive": "Total 0\n",
    "blkio.throttle.io_serviced": "Total 0\n",
    "blkio.throttle.io_service_bytes": "Total 0\n",
  },
  pids: { "pids.max": "max\n", "pids.current": "0\n" },
  systemd: {},
  hugetlb: {
    "hugetlb.2MB.limit_in_bytes": "9223372036854771712\n",
    "hugetlb.2MB.usage_in_bytes": "0\n",
    "hugetlb.2MB.max_usage_in_bytes": "0\n",
    "hugetlb.2MB.failcnt": "0\n",
    "hugetlb.1GB.limit_in_bytes": "9223372036854771712\n",
    "hugetlb.1GB.usage_in_bytes": "0\n",
    "hugetlb.1GB.max_usage_in_bytes": "0\n",
    "hugetlb.1GB.failcnt": "0\n",
  },
  "net_cls,net_prio": { "net_cls.classid": "0\n", "net_prio.ifpriomap": "lo 0\n" },
};

/** Files every cgroup2 cgroup has (cgroup.controllers is filled from the parent). */
const V2_BASE: Record<string, string> = {
  "cgroup.procs": "",
  "cgroup.subtree_control": "\n",
  "cgroup.freeze": "0\n",
  "cgroup.events": "populated 0\nfrozen 0\n",
  "cgroup.max.depth": "max\n",
  "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
};

/** Files a cgroup2 controller adds to the cgroups it is enabled for. */
const V2_FILES: Record<string, Record<string, string>> = {
  cpu: {
    "cpu.weight": "100\n",
    "cpu.max": "max 100000\n",
    "cpu.max.burst": "0\n",
    "cpu.idle": "0\n",
  },
  cpuset: { "cpuset.cpus": "\n", "cpuset.mems": "\n" },
  memory: {
    "memory.max": "max\n",
    "memory.low": "0\n",
    "memory.high": "max\n",
    "memory.swap.max": "max\n",
    "memory.current": "0\n",
    "memory.swap.current": "0\n",
    "memory.stat": "anon 0\nfile 0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
  },
  io: { "io.max": "", "io.weight": "default 100\n", "io.stat": "" },
  pids: { "pids.max": "max\n", "pids.current": "0\n" },
  hugetlb: {
    "hugetlb.2MB.max": "max\n",
    "hugetlb.2MB.current": "0\n",
    "hugetlb.2MB.events": "max 0\n",
    "hugetlb.1GB.max": "max\n",
    "hugetlb.1GB.current": "0\n",
    "hugetlb.1GB.events": "max 0\n",
  },
  rdma: { "rdma.max": "" },
};

/** Controllers of the fake cgroup2 root (pure v2), and of the hybrid one (as here). */
const V2_ROOT_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma";
const HYBRID_ROOT_CONTROLLERS = "hugetlb";

/** Hierarchy directories of the fake v1 host (more than this machine: hugetlb, net_cls). */
const V1_DIRS = [
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "devices",
  "freezer",
  "blkio",
  "pids",
  "systemd",
  "hugetlb",
  "net_cls,net_prio",
];
/** This machine's v1 hierarchies. */
const HYBRID_DIRS = [
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "devices",
  "freezer",
  "blkio",
  "pids",
  "systemd",
];

/** mountinfo of a host with the given v1 hierarchy directories (and cgroup2 at unified). */
export function v1Mountinfo(dirs: string[], unified: boolean): string {
  const lines = ["31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755"];
  dirs.forEach((d, i) => {
    const opts = d === "systemd" ? "rw,xattr,name=systemd" : `rw,${d}`;
    lines.push(
      `${32 + i} 31 0:${29 + i} / /sys/fs/cgroup/${d} rw,relatime - cgroup cgroup ${opts}`,
    );
  });
  if (unified) {
    lines.push("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw");
  }
  return lines.join("\n") + "\n";
}

/** mountinfo of a pure cgroup v2 host. */
export const V2_MOUNTINFO =
  "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

/** mountinfo of this machine (hybrid). */
export const HYBRID_MOUNTINFO = v1Mountinfo(HYBRID_DIRS, true);
/** mountinfo of a v1-only host. */
export const V1_MOUNTINFO = v1Mountinfo(V1_DIRS, false);

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    Deno.writeTextFileSync(`${dir}/${name}`, content);
  }
}

function tokens(text: string): string[] {
  return text.trim().split(/\s+/).filter((t) => t !== "").map((t) => t.replace(/^\+/, ""));
}

/** The fake kernel's filesystem (see the module doc). */
export class FakeCgroupFs implements CgroupFs {
  /** The temp directory standing for /sys/fs/cgroup. */
  readonly root: string;
  readonly #mode: "v1" | "v2" | "hybrid";

  /** Wraps a temp dir already laid out by {@linkcode fakeHost}. */
  constructor(root: string, mode: "v1" | "v2" | "hybrid") {
    this.root = root;
    this.#mode = mode;
  }

  #isV2(path: string): boolean {
    return this.#mode === "v2" || path.slice(this.root.length + 1).split("/")[0] === "unified";
  }

  /** Fills a new cgroup directory with its control files. */
  populate(dir: string): void {
    if (this.#isV2(dir)) {
      const parent = dir.slice(0, dir.lastIndexOf("/"));
      const enabled = tokens(Deno.readTextFileSync(`${parent}/cgroup.subtree_control`));
      writeFiles(dir, { ...V2_BASE, "cgroup.controllers": enabled.join(" ") + "\n" });
      for (const c of enabled) writeFiles(dir, V2_FILES[c] ?? {});
      return;
    }
    const hierarchy = dir.slice(this.root.length + 1).split("/")[0]!;
    writeFiles(dir, { "cgroup.procs": "", tasks: "", "notify_on_release": "0\n" });
    writeFiles(dir, V1_FILES[hierarchy] ?? {});
  }

  /** Reads a file. */
  read(path: string): string {
    return hostCgroupFs.read(path);
  }

  /** Device rules of v1 cgroups, kept as the kernel does (devices.list hides deny exceptions). */
  readonly #devices = new Map<string, DeviceEmulator>();

  #writeDevices(path: string, data: string): void {
    const dir = path.slice(0, path.lastIndexOf("/"));
    const emu = this.#devices.get(dir) ??
      DeviceEmulator.fromList(Deno.readTextFileSync(`${dir}/devices.list`));
    this.#devices.set(dir, emu);
    const allow = path.endsWith("/devices.allow");
    const m = /^([bc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(data.trim());
    if (!/^a( |$)/.test(data) && !m) {
      throw Object.assign(new Error(`EINVAL: ${data}`), { code: "EINVAL" });
    }
    const n = (x: string) => x === "*" ? -1 : Number(x);
    try {
      emu.apply(
        m
          ? {
            type: m[1] as "b" | "c",
            major: n(m[2]!),
            minor: n(m[3]!),
            access: accessBits(m[4]!, ""),
            allow,
          }
          : { type: "a", major: -1, minor: -1, access: ACC_ALL, allow },
      );
    } catch {
      // the kernel ignores a hole punched in a wildcard exception
    }
    const list = emu.defaultAllow ? "a *:* rwm\n" : emu.exceptions().map((r) => ruleLine(r) + "\n")
      .join("");
    Deno.writeTextFileSync(`${dir}/devices.list`, list);
  }

  /**
   * Writes (never creates); cgroup.subtree_control, devices.allow and devices.deny behave like
   * the kernel's.
   */
  write(path: string, data: string): void {
    if (path.endsWith("/devices.allow") || path.endsWith("/devices.deny")) {
      hostCgroupFs.write(path, data);
      return this.#writeDevices(path, data);
    }
    if (!path.endsWith("/cgroup.subtree_control")) return hostCgroupFs.write(path, data);
    const dir = path.slice(0, path.lastIndexOf("/"));
    const available = tokens(Deno.readTextFileSync(`${dir}/cgroup.controllers`));
    const now = new Set(tokens(Deno.readTextFileSync(path)));
    for (const t of data.trim().split(/\s+/)) {
      const c = t.slice(1);
      if (!available.includes(c)) {
        throw Object.assign(new Error(`ENOENT: ${c} not available`), { code: "ENOENT" });
      }
      if (t.startsWith("+")) now.add(c);
      else now.delete(c);
    }
    hostCgroupFs.write(path, [...now].join(" ") + "\n");
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isDirectory) continue;
      const child = `${dir}/${e.name}`;
      Deno.writeTextFileSync(`${child}/cgroup.controllers`, [...now].join(" ") + "\n");
      for (const c of now) {
        for (const [name, content] of Object.entries(V2_FILES[c] ?? {})) {
          if (!this.exists(`${child}/${name}`)) Deno.writeTextFileSync(`${child}/${name}`, content);
        }
      }
    }
  }

  /** Whether a path exists. */
  exists(path: string): boolean {
    return hostCgroupFs.exists(path);
  }

  /** mkdir -p, each new level populated like a new cgroup. */
  mkdirAll(path: string): void {
    const parts = path.slice(this.root.length).split("/").filter((p) => p !== "");
    let cur = this.root;
    for (const p of parts) {
      cur = `${cur}/${p}`;
      if (this.exists(cur)) continue;
      Deno.mkdirSync(cur);
      this.populate(cur);
    }
  }

  /** Directory entries. */
  entries(path: string): { name: string; isDir: boolean }[] {
    return hostCgroupFs.entries(path);
  }

  /** rmdir of a cgroup: EBUSY with sub-cgroups, else the control files go with it. */
  rmdir(path: string): void {
    const ents = [...Deno.readDirSync(path)];
    if (ents.some((e) => e.isDirectory)) {
      throw Object.assign(new Error(`EBUSY: ${path}`), { code: "EBUSY" });
    }
    for (const e of ents) Deno.removeSync(`${path}/${e.name}`);
    Deno.removeSync(path);
  }
}

/** A fake host: the temp root, its mountinfo, the recording backend over the fake kernel. */
export interface FakeHost {
  /** The temp directory standing for /sys/fs/cgroup. */
  root: string;
  /** mountinfo text naming /sys/fs/cgroup (cgroupManagerFor rebases it onto root). */
  mountinfo: string;
  /** The fake kernel. */
  kernel: FakeCgroupFs;
  /** The recording backend to hand to the manager. */
  fs: RecordingCgroupFs;
  /** Writes go here in order. */
  writes(): { path: string; data: string }[];
  /** Reads a file under root (`memory/runts/c1/memory.limit_in_bytes`). */
  cat(rel: string): string;
  /** Overwrites a file under root (a counter the kernel would update). */
  put(rel: string, content: string): void;
  /** Removes the temp directory. */
  cleanup(): void;
}

/** Lays out a fake /sys/fs/cgroup in a temp dir. */
export function fakeHost(mode: "v1" | "v2" | "hybrid"): FakeHost {
  const root = Deno.makeTempDirSync({ prefix: "runts-cgroup-" });
  const kernel = new FakeCgroupFs(root, mode);
  const rootFiles = (dir: string, files: Record<string, string>) => {
    Deno.mkdirSync(dir, { recursive: true });
    writeFiles(dir, files);
  };
  if (mode === "v2") {
    rootFiles(root, {
      ...V2_BASE,
      "cgroup.controllers": V2_ROOT_CONTROLLERS + "\n",
      "cpuset.cpus.effective": "0-3\n",
    });
  } else {
    for (const d of mode === "v1" ? V1_DIRS : HYBRID_DIRS) {
      const files: Record<string, string> = {
        "cgroup.procs": "1\n",
        ...(V1_FILES[d] ?? {}),
      };
      if (d === "cpuset") Object.assign(files, { "cpuset.cpus": "0-3\n", "cpuset.mems": "0\n" });
      rootFiles(`${root}/${d}`, files);
    }
    if (mode === "hybrid") {
      rootFiles(`${root}/unified`, {
        ...V2_BASE,
        "cgroup.controllers": HYBRID_ROOT_CONTROLLERS + "\n",
      });
    }
  }
  const fs = new RecordingCgroupFs(kernel);
  const mountinfo = mode === "v2" ? V2_MOUNTINFO : mode === "v1" ? V1_MOUNTINFO : HYBRID_MOUNTINFO;
  return {
    root,
    mountinfo,
    kernel,
    fs,
    writes: () =>
      fs.ops.filter((o) => o.op === "write").map((o) => ({
        path: o.path.slice(root.length + 1),
        data: o.data ?? "",
      })),
    cat: (rel) => Deno.readTextFileSync(`${root}/${rel}`),
    put: (rel, content) => Deno.writeTextFileSync(`${root}/${rel}`, content),
    cleanup: () => Deno.removeSync(root, { recursive: true }),
  };
}
